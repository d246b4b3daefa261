package lab1_test

import (
	"strings"
	"testing"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/internal/labtest"
	lab1 "github.com/bpflab/bpflab/labs/lab-1"
)

// TestLab grades, on every kernel of the matrix, the solution (passes),
// the starter (fails exactly the two checks it leaves as TODOs) and each
// known-wrong program (fails exactly what it gets wrong).
func TestLab(t *testing.T) {
	labtest.Matrix(t, lab1.Lab, []labtest.Case{
		{Src: "solution/openat.bpf.c"},
		{Src: "openat.bpf.c", Fail: []string{"passwd-reported", "react-kill"}},
		{Src: "testdata/wrong/compile-error.bpf.c", Fail: []string{"compile"}},
		{Src: "testdata/wrong/empty.bpf.c", Fail: []string{"object"}},
		{Src: "testdata/wrong/no-license.bpf.c", Fail: []string{"license"}},
		{Src: "testdata/wrong/wrong-section.bpf.c", Fail: []string{"section"}},
		{Src: "testdata/wrong/two-programs.bpf.c", Fail: []string{"section"}},
		{Src: "testdata/wrong/unchecked-reserve.bpf.c", Fail: []string{"verifier"}},
		{Src: "testdata/wrong/every-openat.bpf.c", Fail: []string{"exact-match", "relative-name-rule", "react-kill"}},
		{Src: "testdata/wrong/prefix-match.bpf.c", Fail: []string{"exact-match", "react-control"}},
		{Src: "testdata/wrong/suffix-match.bpf.c", Fail: []string{"exact-match", "relative-name-rule", "react-control"}},
		{Src: "testdata/wrong/short-compare.bpf.c", Fail: []string{"exact-match", "react-control"}},
		{Src: "testdata/wrong/length-and-suffix.bpf.c", Fail: []string{"exact-match", "react-control"}},
		// The slash after /etc is one of the near misses of every run.
		{Src: "testdata/wrong/skip-slash.bpf.c", Fail: []string{"exact-match", "react-control"}},
		{Src: "testdata/wrong/grader-only.bpf.c", Fail: []string{"passwd-reported", "react-kill"}},
		{Src: "testdata/wrong/fake-pid.bpf.c", Fail: []string{"passwd-reported"}},
		{Src: "testdata/wrong/tid-not-pid.bpf.c", Fail: []string{"passwd-reported"}},
		{Src: "testdata/wrong/name-filter.bpf.c", Fail: []string{"passwd-reported", "react-kill"}},
		{Src: "testdata/wrong/parent-name.bpf.c", Fail: []string{"passwd-reported", "react-kill"}},
		{Src: "testdata/wrong/first-few.bpf.c", Fail: []string{"passwd-reported", "react-kill"}},
		{Src: "testdata/wrong/once-per-name.bpf.c", Fail: []string{"passwd-reported"}},
		{Src: "testdata/wrong/once-per-pid.bpf.c", Fail: []string{"passwd-reported"}},
		{Src: "testdata/wrong/ban-forever.bpf.c", Fail: []string{"exact-match", "react-control"}},
		{Src: "testdata/wrong/excl-skip.bpf.c", Fail: []string{"passwd-reported", "react-kill"}},
		{Src: "testdata/wrong/negative-dfd.bpf.c", Fail: []string{"passwd-reported", "react-kill"}},
		{Src: "testdata/wrong/fixed-read.bpf.c", Fail: []string{"passwd-reported", "react-kill"}},
		{Src: "testdata/wrong/byte-sum.bpf.c", Fail: []string{"exact-match", "react-control"}},
		{Src: "testdata/wrong/comm-cut.bpf.c", Fail: []string{"passwd-reported"}},
		{Src: "testdata/wrong/small-env.bpf.c", Fail: []string{"passwd-reported", "react-kill"}},
		// Every other process has no parent-death signal.
		{Src: "testdata/wrong/pdeath-only.bpf.c", Fail: []string{"passwd-reported", "react-kill"}},
		{Src: "testdata/wrong/allow-readers.bpf.c", Fail: []string{"passwd-reported", "react-kill"}},
		{Src: "testdata/wrong/flags-filter.bpf.c", Fail: []string{"passwd-reported", "react-kill"}},
		{Src: "testdata/wrong/dfd-filter.bpf.c", Fail: []string{"passwd-reported", "react-kill"}},
		{Src: "testdata/wrong/stop-instead.bpf.c", Fail: []string{"react-kill"}},
		{Src: "testdata/wrong/kill-everyone.bpf.c", Fail: []string{"exact-match", "relative-name-rule", "react-control"}},
		{Src: "testdata/wrong/flood.bpf.c", Fail: []string{"passwd-reported", "exact-match", "relative-name-rule"}},
	}, nil)
}

func TestVerifierHintNamesTheCause(t *testing.T) {
	for _, tc := range []struct{ log, want string }{
		{"R6 invalid mem access 'ringbuf_mem_or_null'", "NULL"},
		{"R1 invalid mem access 'map_value_or_null'", "NULL"},
		{"cannot call GPL-restricted function from non-GPL compatible program", "GPL"},
		{"back-edge from insn 10 to 5", "loop"},
		{"combined stack size of 2 calls is 544. Too large", "512"},
		{"Unreleased reference id=2 alloc_insn=5", "bpf_ringbuf_discard"},
		{"R3 invalid mem access 'scalar'", "BPF_CORE_READ"},
		{"something new", "-v"},
	} {
		if got := harness.VerifierHint(tc.log); !strings.Contains(got, tc.want) {
			t.Errorf("hint for %q = %q, want it to mention %q", tc.log, got, tc.want)
		}
	}
}
