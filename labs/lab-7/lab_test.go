package lab7_test

import (
	"testing"

	"github.com/bpflab/bpflab/internal/labtest"
	lab7 "github.com/bpflab/bpflab/labs/lab-7"
	"github.com/bpflab/bpflab/labs/lab-7/kube"
)

// goChecks are the checks of the Go program.
var goChecks = []string{kube.CheckParse, kube.CheckAtStart, kube.CheckAfterStart, kube.CheckRecreated, kube.CheckOutside}

// TestLab grades, on every kernel of the matrix, the solution (passes),
// the starter's C and Go files (fail their TODO checks), and known-wrong
// programs of either half, each with the other half right. The Go mistakes are caught on the
// host too, by internal/wrong's test.
func TestLab(t *testing.T) {
	labtest.Matrix(t, lab7.Lab, []labtest.Case{
		// The node's layout is the same in every scenario (the seed draws
		// names, ids and order): two scenarios, 100 under make
		// stress-graders.
		{Src: "solution/who.bpf.c", Seeds: labtest.Stress(labtest.SolutionSeeds(), 2)},
		{Src: "who.bpf.c", Prog: "enrich", Fail: append(goChecks, "passwd-reported", "events-enriched")},
		{Src: "testdata/wrong/memory-cgroup.bpf.c", Fail: []string{"passwd-reported", "events-enriched"}},
		{Src: "testdata/wrong/every-open.bpf.c", Fail: []string{"others-silent"}},
		{Src: "testdata/wrong/flags-filter.bpf.c", Fail: []string{"passwd-reported"}},
		{Src: "testdata/wrong/relative-too.bpf.c", Fail: []string{"others-silent"}},
		{Src: "testdata/wrong/short-compare.bpf.c", Fail: []string{"others-silent"}},
		{Src: "testdata/wrong/skip-root.bpf.c", Fail: []string{"passwd-reported"}},
		{Src: "testdata/wrong/pid-cache.bpf.c", Fail: []string{"passwd-reported"}},
		{Src: "testdata/wrong/prefix-too.bpf.c", Fail: []string{"others-silent"}},
		{Src: "testdata/wrong/any-case.bpf.c", Fail: []string{"others-silent"}},
		{Src: "testdata/wrong/skip-slash.bpf.c", Fail: []string{"others-silent"}},
		{Src: "testdata/wrong/leftover-kill.bpf.c", Fail: []string{"passwd-reported", "others-silent", "processes-unharmed"}},
		{Src: "solution/who.bpf.c", Prog: "testdata/wrong/no-refresh", Fail: []string{kube.CheckAfterStart, kube.CheckRecreated, "events-enriched"}},
		// Submissions are untrusted: a Go program that tries to kill the
		// grader and to leave its cgroup, then answers right, passes.
		{Src: "solution/who.bpf.c", Prog: "testdata/hostile", Seeds: 1},
	}, nil)
}
