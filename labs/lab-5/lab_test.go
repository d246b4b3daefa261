package lab5_test

import (
	"testing"

	"github.com/bpflab/bpflab/internal/labtest"
	lab5 "github.com/bpflab/bpflab/labs/lab-5"
)

// TestLab grades every submission on every kernel of the matrix, in one
// boot per kernel with two vCPUs.
func TestLab(t *testing.T) {
	labtest.Matrix(t, lab5.Lab, []labtest.Case{
		// Each grading of the solution makes some 400,000 counted calls on
		// two CPUs, one kernel at a time with the machine to itself: two
		// scenarios a kernel in make test (its slowest part), 100 under
		// make stress-graders.
		{Src: "solution/count.bpf.c", Seeds: labtest.Stress(labtest.SolutionSeeds(), 2)},
		{Src: "count.bpf.c", Fail: []string{"openat-counts", "counts-concurrent", "read-histogram"}},
		// Losing counts is a race: graded 20 times a kernel by make
		// stress-graders, it must fail every time.
		{Src: "testdata/wrong/nonatomic.bpf.c", Fail: []string{"counts-concurrent", "read-histogram"}, Seeds: labtest.Stress(20, 2)},
		{Src: "testdata/wrong/nonatomic-counts.bpf.c", Fail: []string{"counts-concurrent"}, Seeds: labtest.Stress(20, 1)},
		{Src: "testdata/wrong/tid-keyed.bpf.c", Fail: []string{"openat-counts", "counts-concurrent"}},
		{Src: "testdata/wrong/no-filter.bpf.c", Fail: []string{"unwatched-ignored"}, MayFail: []string{"read-histogram"}},
		{Src: "testdata/wrong/u32-count.bpf.c", Fail: []string{"read-histogram"}},
		{Src: "testdata/wrong/reads-fd.bpf.c", Fail: []string{"read-histogram"}},
		{Src: "testdata/wrong/signed-count.bpf.c", Fail: []string{"read-histogram"}},
		// The racing processes run first and fill a map of 6 entries:
		// the others have none.
		{Src: "testdata/wrong/small-map.bpf.c", Fail: []string{"openat-counts", "counts-concurrent"}},
		// Creating an entry wrongly is a race too: a round counts only
		// when the grader's own creation, on the same calls, showed two
		// threads of at least 4 racing processes both finding no entry
		// (more racing processes run until then), and a program's
		// creation then loses a count in nearly all of them. Graded 20
		// times a kernel by make stress-graders, each must fail every
		// time.
		{Src: "testdata/wrong/create-race.bpf.c", Fail: []string{"counts-concurrent"}, Seeds: labtest.Stress(20, 1)},
		{Src: "testdata/wrong/any-zero.bpf.c", Fail: []string{"counts-concurrent"}, Seeds: labtest.Stress(20, 1)},
		{Src: "testdata/wrong/noexist-one.bpf.c", Fail: []string{"counts-concurrent"}, Seeds: labtest.Stress(20, 1)},
		// Every kind of process opens with a directory descriptor and
		// with every access mode.
		{Src: "testdata/wrong/dfd-filter.bpf.c", Fail: []string{"openat-counts", "counts-concurrent"}},
		{Src: "testdata/wrong/flags-filter.bpf.c", Fail: []string{"openat-counts", "counts-concurrent"}},
		// Processes read before they first open, and one never opens.
		{Src: "testdata/wrong/read-if-opened.bpf.c", Fail: []string{"read-histogram"}},
		{Src: "testdata/wrong/skip-zero-read.bpf.c", Fail: []string{"read-histogram"}},
	}, nil)
}

func TestSlot(t *testing.T) {
	for _, c := range []struct {
		n    uint64
		want int
	}{{0, 0}, {1, 0}, {2, 1}, {3, 1}, {4, 2}, {4095, 11}, {4096, 12}, {1<<31 - 1, 30}, {1 << 31, 31}, {1 << 40, 31}, {1 << 63, 31}, {^uint64(0), 31}} {
		if got := lab5.Slot(c.n); got != c.want {
			t.Errorf("Slot(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}
