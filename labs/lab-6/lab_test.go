package lab6_test

import (
	"testing"

	"github.com/bpflab/bpflab/internal/labtest"
	lab6 "github.com/bpflab/bpflab/labs/lab-6"
	"golang.org/x/sys/unix"
)

// TestLab grades every submission on every kernel of the matrix, whose
// guests boot with bpf among the active LSMs: a SKIP there is a failure.
func TestLab(t *testing.T) {
	labtest.Matrix(t, lab6.Lab, []labtest.Case{
		{Src: "solution/guard.bpf.c"},
		{Src: "guard.bpf.c", Fail: []string{"blocked-by-name", "blocked-by-link"}},
		{Src: "testdata/wrong/path-match.bpf.c", Fail: []string{"blocked-by-link"}},
		{Src: "testdata/wrong/name-match.bpf.c", Fail: []string{"blocked-by-link", "others-open"}},
		{Src: "testdata/wrong/eacces.bpf.c", Fail: []string{"blocked-by-name", "blocked-by-link"}},
		{Src: "testdata/wrong/parent-etc.bpf.c", Fail: []string{"blocked-by-link", "others-open"}},
		{Src: "testdata/wrong/nlink.bpf.c", Fail: []string{"others-open"}},
		{Src: "testdata/wrong/link-name.bpf.c", Fail: []string{"blocked-by-link"}},
		{Src: "testdata/wrong/inode-only.bpf.c", Fail: []string{"others-open"}},
		{Src: "testdata/wrong/hardcoded.bpf.c", Fail: []string{"blocked-by-name", "blocked-by-link"}},
		{Src: "testdata/wrong/oldenc.bpf.c", Fail: []string{"blocked-by-name", "blocked-by-link"}},
		{Src: "testdata/wrong/majorzero.bpf.c", Fail: []string{"blocked-by-name", "blocked-by-link"}},
		{Src: "testdata/wrong/dev16.bpf.c", Fail: []string{"others-open"}},
		{Src: "testdata/wrong/nowrite.bpf.c", Fail: []string{"others-open"}},
		{Src: "testdata/wrong/allowlist.bpf.c", Fail: []string{"blocked-by-name"}},
		{Src: "testdata/wrong/kthread-name.bpf.c", Fail: []string{"blocked-by-name"}},
		{Src: "testdata/wrong/budget.bpf.c", Fail: []string{"blocked-by-name"}},
	}, nil)
}

// TestKernelDev: the kernel's encoding of a device number (MKDEV) from
// stat's.
func TestKernelDev(t *testing.T) {
	if got, want := lab6.KernelDev(unix.Mkdev(8, 1)), uint32(8<<20|1); got != want {
		t.Errorf("KernelDev(8:1) = %#x, want %#x", got, want)
	}
	if got, want := lab6.KernelDev(unix.Mkdev(259, 300)), uint32(259<<20|300); got != want {
		t.Errorf("KernelDev(259:300) = %#x, want %#x", got, want)
	}
}
