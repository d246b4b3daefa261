package lab2_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/internal/testvm"
	lab2 "github.com/bpflab/bpflab/labs/lab-2"
	"github.com/bpflab/bpflab/vmtest"
	"github.com/google/go-cmp/cmp"
)

// graded is every submission CI grades, with the checks that must fail.
var graded = []struct {
	src  string
	fail []string
}{
	{"solution/unlink.bpf.c", nil},
	{"unlink.bpf.c", []string{"unlink-reported", "unlinkat-relative", "return-success", "return-enoent"}},
	{"testdata/wrong/pointer-address.bpf.c", []string{"unlink-reported", "unlinkat-relative"}},
	{"testdata/wrong/user-helper.bpf.c", []string{"unlink-reported", "unlinkat-relative"}},
	{"testdata/wrong/wrong-function.bpf.c", []string{"section"}},
	{"testdata/wrong/no-return.bpf.c", []string{"return-enoent"}},
}

// TestLab grades every submission on every kernel of the matrix, 7.x (where
// do_unlinkat is gone) included, in one boot per kernel.
func TestLab(t *testing.T) {
	kernels := testvm.Kernels(t)
	bin := testvm.Binary(t)
	root := testvm.ModuleRoot()
	var subs []harness.Submission
	for _, g := range graded {
		subs = append(subs, harness.Submission{Label: g.src, Src: filepath.Join(root, lab2.Lab.Dir, g.src)})
	}
	ctx := context.Background()
	compiled, err := harness.CompileAll(ctx, lab2.Lab, root, t.TempDir(), subs)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kernels {
		t.Run(k.Alias, func(t *testing.T) {
			t.Parallel()
			var log strings.Builder
			cfg := vmtest.Config{Kernel: k.Path, Init: bin, Accel: "tcg", Stdout: &log, Stderr: &log, RunTimeout: 5 * time.Minute}
			reports, err := harness.GradeInVM(ctx, lab2.Lab, compiled, k.Alias, cfg, t.TempDir())
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
				for _, c := range r.Checks {
					if c.Status == harness.Skip {
						t.Errorf("%s: check %s skipped on %s, which has kprobes: %s", g.src, c.Name, k.Alias, c.Reason)
					}
				}
				if g.fail == nil && !r.Passed() {
					t.Errorf("%s does not pass", g.src)
				}
				if g.fail != nil && r.Passed() {
					t.Errorf("%s passes, but it is wrong", g.src)
				}
				if r.Attached == "" && g.fail == nil {
					t.Errorf("%s: the report does not say which function the loader attached to", g.src)
				}
			}
		})
	}
}

func TestFindSymbol(t *testing.T) {
	old := []byte("ffffffff81000000 T _stext\nffffffff812d5a40 T do_unlinkat\nffffffff812d5b00 t filename_create\n")
	renamed := []byte("ffffffff812d5a40 T filename_unlinkat\nffffffff812d5b00 T do_rmdir\n")
	if s, err := lab2.FindSymbol(old, lab2.Symbols); err != nil || s != "do_unlinkat" {
		t.Errorf("old kernel: %q, %v", s, err)
	}
	if s, err := lab2.FindSymbol(renamed, lab2.Symbols); err != nil || s != "filename_unlinkat" {
		t.Errorf("7.x kernel: %q, %v", s, err)
	}
	if _, err := lab2.FindSymbol([]byte("ffffffff81000000 T _stext\n"), lab2.Symbols); err == nil {
		t.Error("a kernel with neither symbol: no error")
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
	r := harness.GradeObject(context.Background(), lab2.Lab, compiled[0].Obj, "host", "solution")
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
