package lab1_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/internal/testvm"
	lab1 "github.com/bpflab/bpflab/labs/lab-1"
	"github.com/bpflab/bpflab/vmtest"
	"github.com/google/go-cmp/cmp"
)

// graded is every submission CI grades, with the checks that must fail.
// The solution must fail none; the starter exactly the two it leaves as
// TODOs; each known-wrong program exactly what it gets wrong.
var graded = []struct {
	src  string
	fail []string
}{
	{"solution/openat.bpf.c", nil},
	{"openat.bpf.c", []string{"passwd-reported", "react-kill"}},
	{"testdata/wrong/compile-error.bpf.c", []string{"compile"}},
	{"testdata/wrong/empty.bpf.c", []string{"object"}},
	{"testdata/wrong/no-license.bpf.c", []string{"license"}},
	{"testdata/wrong/wrong-section.bpf.c", []string{"section"}},
	{"testdata/wrong/unchecked-reserve.bpf.c", []string{"verifier"}},
	{"testdata/wrong/every-openat.bpf.c", []string{"passwd-reported", "exact-match", "relative-name-rule", "react-kill"}},
	{"testdata/wrong/prefix-match.bpf.c", []string{"exact-match"}},
	{"testdata/wrong/fake-pid.bpf.c", []string{"passwd-reported"}},
}

// TestLab grades every submission on every kernel of the matrix, in one
// boot per kernel.
func TestLab(t *testing.T) {
	kernels := testvm.Kernels(t)
	bin := testvm.Binary(t)
	root := testvm.ModuleRoot()
	dir := t.TempDir()
	var subs []harness.Submission
	for _, g := range graded {
		subs = append(subs, harness.Submission{Label: g.src, Src: filepath.Join(root, lab1.Lab.Dir, g.src)})
	}
	ctx := context.Background()
	compiled, err := harness.CompileAll(ctx, lab1.Lab, root, dir, subs)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kernels {
		t.Run(k.Alias, func(t *testing.T) {
			t.Parallel()
			kdir := t.TempDir()
			var log strings.Builder
			cfg := vmtest.Config{Kernel: k.Path, Init: bin, Accel: "tcg", Stdout: &log, Stderr: &log,
				RunTimeout: 5 * time.Minute}
			reports, err := harness.GradeInVM(ctx, lab1.Lab, compiled, k.Alias, cfg, kdir)
			if err != nil {
				t.Fatalf("grading: %v\nguest output:\n%s", err, log.String())
			}
			for i, g := range graded {
				r := reports[i]
				if diff := cmp.Diff(g.fail, r.Failed()); diff != "" {
					var sb strings.Builder
					r.Print(&sb, true)
					t.Errorf("%s: failed checks (-want +got):\n%s\n%s", g.src, diff, sb.String())
				}
				if g.fail == nil {
					if !r.Passed() {
						t.Errorf("%s does not pass", g.src)
					}
					// Every kernel of the matrix has bpf_send_signal: a skip
					// here would hide a broken check.
					for _, c := range r.Checks {
						if c.Status == harness.Skip {
							t.Errorf("%s: check %s skipped on %s: %s", g.src, c.Name, k.Alias, c.Reason)
						}
					}
				} else if r.Passed() {
					t.Errorf("%s passes, but it is wrong", g.src)
				}
			}
		})
	}
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
		{"something new", "--verbose"},
	} {
		if got := harness.VerifierHint(tc.log); !strings.Contains(got, tc.want) {
			t.Errorf("hint for %q = %q, want it to mention %q", tc.log, got, tc.want)
		}
	}
}
