package lab2_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/internal/labtest"
	"github.com/bpflab/bpflab/internal/testvm"
	lab2 "github.com/bpflab/bpflab/labs/lab-2"
)

// TestLab grades every submission on every kernel of the matrix, 7.x (where
// do_unlinkat is gone) included, in one boot per kernel.
func TestLab(t *testing.T) {
	labtest.Matrix(t, lab2.Lab, []labtest.Case{
		{Src: "solution/unlink.bpf.c"},
		{Src: "unlink.bpf.c", Fail: []string{"unlink-reported", "unlinkat-relative", "return-success", "return-errors"}},
		{Src: "testdata/wrong/pointer-address.bpf.c", Fail: []string{"unlink-reported", "unlinkat-relative"}},
		{Src: "testdata/wrong/user-helper.bpf.c", Fail: []string{"unlink-reported", "unlinkat-relative"}},
		{Src: "testdata/wrong/wrong-function.bpf.c", Fail: []string{"section"}},
		{Src: "testdata/wrong/no-return.bpf.c", Fail: []string{"return-errors"}},
		{Src: "testdata/wrong/long-ret.bpf.c", Fail: []string{"return-errors"}},
		{Src: "testdata/wrong/success-only.bpf.c", Fail: []string{"return-errors"}},
		// Passes on a fresh ring buffer, whose bytes are zero: the grader
		// fills it first, so the unset field shows.
		{Src: "testdata/wrong/ret-if-error.bpf.c", Fail: []string{"return-success", "return-errors"}},
		{Src: "testdata/wrong/short-path.bpf.c", Fail: []string{"unlink-reported"}},
		{Src: "testdata/wrong/tid-not-pid.bpf.c", Fail: []string{"unlink-reported", "unlinkat-relative", "return-success", "return-errors"}},
		{Src: "testdata/wrong/dfd-filter.bpf.c", Fail: []string{"unlinkat-relative"}},
		{Src: "testdata/wrong/name-filter.bpf.c", Fail: []string{"unlink-reported", "unlinkat-relative"}},
		{Src: "testdata/wrong/first-few.bpf.c", Fail: []string{"unlink-reported", "unlinkat-relative"}},
		{Src: "testdata/wrong/once-per-process.bpf.c", Fail: []string{"unlink-reported", "unlinkat-relative"}},
		// Read name->iname: empty for the scenario's path of 4090 bytes.
		{Src: "testdata/wrong/inline-name.bpf.c", Fail: []string{"unlink-reported"}},
		{Src: "testdata/wrong/skip-noise.bpf.c", Fail: []string{"unlink-reported", "unlinkat-relative", "return-success", "return-errors"}},
		// Only the rm -rf process deletes more than 20 files, all with
		// unlinkat(dirfd, name, 0), all successfully.
		{Src: "testdata/wrong/per-pid-rate.bpf.c", Fail: []string{"unlinkat-relative", "return-success"}},
		// The together processes' batches: five deletions inside the
		// function at once, each batch with every kind of name and end.
		{Src: "testdata/wrong/tgid-pairing.bpf.c", Fail: []string{"return-success", "return-errors"}},
		{Src: "testdata/wrong/percpu-scratch.bpf.c", Fail: []string{"unlink-reported", "unlinkat-relative"}},
		{Src: "testdata/wrong/kill-deleters.bpf.c", Fail: []string{"unlink-reported", "unlinkat-relative", "return-success", "return-errors", "processes-unharmed"},
			MayFail: []string{"rmdir-not-reported", "other-ops-silent"}},
	}, func(t *testing.T, c labtest.Case, r *harness.Report) {
		if c.Fail == nil && r.Attached == "" {
			t.Errorf("%s: the report does not say which function the loader attached to", c.Src)
		}
	})
}

func TestFindSymbol(t *testing.T) {
	old := []byte("ffffffff81000000 T _stext\nffffffff812d5a40 T do_unlinkat\nffffffff812d5b00 t filename_create\n")
	renamed := []byte("ffffffff812d5a40 T filename_unlinkat\nffffffff812d5b00 T do_rmdir\n")
	if s, err := harness.FirstSymbol(bytes.NewReader(old), lab2.Lab.Symbols); err != nil || s != "do_unlinkat" {
		t.Errorf("old kernel: %q, %v", s, err)
	}
	if s, err := harness.FirstSymbol(bytes.NewReader(renamed), lab2.Lab.Symbols); err != nil || s != "filename_unlinkat" {
		t.Errorf("7.x kernel: %q, %v", s, err)
	}
	if lab2.HasKprobes(old) {
		t.Error("HasKprobes without register_kprobe")
	}
	if !lab2.HasKprobes([]byte("ffffffff81100000 T register_kprobe\n")) {
		t.Error("HasKprobes misses register_kprobe")
	}
}

// TestHostWithoutKprobes grades the solution on the host kernel when it
// lacks kprobes: every check that needs them is a SKIP with the reason,
// none is a FAIL.
func TestHostWithoutKprobes(t *testing.T) {
	kallsyms, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		t.Skip(err)
	}
	if lab2.HasKprobes(kallsyms) {
		t.Skip("this host has kprobes; the VM tests cover grading")
	}
	if os.Geteuid() != 0 {
		t.Skip("loading programs on the host needs root")
	}
	root := testvm.ModuleRoot()
	dir := t.TempDir()
	compiled, err := harness.CompileAll(context.Background(), lab2.Lab, root, dir,
		[]harness.Submission{{Label: "solution", Src: filepath.Join(root, lab2.Lab.Dir, lab2.Lab.Solution)}})
	if err != nil {
		t.Fatal(err)
	}
	if compiled[0].Obj == "" {
		t.Fatalf("solution does not compile: %+v", compiled[0].Report)
	}
	r := harness.GradeObject(context.Background(), lab2.Lab, compiled[0].Obj, "host", "solution", 1)
	if len(r.Failed()) != 0 {
		t.Errorf("failed on a host without kprobes: %v", r.Failed())
	}
	skipped := 0
	for _, c := range r.Checks {
		if c.Status == harness.Skip {
			skipped++
			if !strings.Contains(c.Reason, "CONFIG_KPROBES") {
				t.Errorf("skip reason does not name the cause: %q", c.Reason)
			}
		}
	}
	if skipped == 0 {
		t.Error("nothing skipped on a host without kprobes")
	}
}
