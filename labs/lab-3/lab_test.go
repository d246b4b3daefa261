package lab3_test

import (
	"strings"
	"testing"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/internal/labtest"
	lab3 "github.com/bpflab/bpflab/labs/lab-3"
)

// TestLab grades every submission on every kernel of the matrix, in one
// boot per kernel.
func TestLab(t *testing.T) {
	calls := []string{"calls-reported", "concurrent-calls"}
	labtest.Matrix(t, lab3.Lab, []labtest.Case{
		{Src: "solution/pin.bpf.c"},
		{Src: "pin.bpf.c", Fail: calls},
		{Src: "testdata/wrong/wrong-binary.bpf.c", Fail: append(calls, "other-binary-silent")},
		// Both programs must be on check_pin: the attach check says so.
		{Src: "testdata/wrong/sibling.bpf.c", Fail: []string{"attach"}},
		{Src: "testdata/wrong/ret-other-function.bpf.c", Fail: []string{"attach"}},
		// Keyed by process: the burst's threads call at once too, and
		// whether two of them overlap there depends on the interleaving.
		{Src: "testdata/wrong/pid-keyed.bpf.c", Fail: []string{"concurrent-calls"}, MayFail: []string{"calls-reported"}},
		{Src: "testdata/wrong/tid-not-pid.bpf.c", Fail: calls},
		{Src: "testdata/wrong/kernel-read.bpf.c", Fail: calls},
		{Src: "testdata/wrong/short-user.bpf.c", Fail: calls},
		{Src: "testdata/wrong/entry-only.bpf.c", Fail: calls},
		{Src: "testdata/wrong/once-per-process.bpf.c", Fail: calls},
		{Src: "testdata/wrong/short-pin.bpf.c", Fail: calls},
		{Src: "testdata/wrong/read-at-return.bpf.c", Fail: calls},
		{Src: "testdata/wrong/skip-no-user.bpf.c", Fail: calls},
		// Entries of calls that returned are left in the map.
		{Src: "testdata/wrong/no-delete.bpf.c", Fail: []string{"entries-deleted"}},
		// pinlock moves calls to the other CPU, one at a time and at once.
		{Src: "testdata/wrong/percpu-hash.bpf.c", Fail: calls},
		// Users at a page's end are in calls one at a time only.
		{Src: "testdata/wrong/fixed-read.bpf.c", Fail: []string{"calls-reported"}},
		// Calls are made again, one at a time and at once.
		{Src: "testdata/wrong/dedup.bpf.c", Fail: calls},
		// The process that makes a burst goes on one at a time after it.
		{Src: "testdata/wrong/rate-limit.bpf.c", Fail: calls},
	}, func(t *testing.T, c labtest.Case, r *harness.Report) {
		if c.Fail == nil {
			for _, ch := range r.Checks {
				if ch.Name == "attach" && !strings.Contains(ch.Reason, "uprobe/pinlock:check_pin") {
					t.Errorf("%s: the attach check does not say where: %q", c.Src, ch.Reason)
				}
			}
		}
	})
}

// TestReturns: the grader's copy of pinlock's PIN derivation agrees with
// the C program's, for a few known values.
func TestReturns(t *testing.T) {
	a := lab3.CallArgs{Func: "check_pin", User: "alice", Secret: 77}
	a.Pin = lab3.PIN("alice", 77, 0)
	if got := lab3.Returns(a); got != 1 {
		t.Errorf("the right PIN returns %d, want 1", got)
	}
	a.Pin++
	if got := lab3.Returns(a); got != 0 {
		t.Errorf("a wrong PIN returns %d, want 0", got)
	}
	if got := lab3.Returns(lab3.CallArgs{Func: "check_pin", Secret: 77}); got != -1 {
		t.Errorf("no user returns %d, want -1", got)
	}
}
