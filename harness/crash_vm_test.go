package harness_test

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
)

// TestGuestCrashCostsOneGrade: when the guest's kernel goes down while it
// grades one of several submissions, the others are graded in boots of
// their own and keep their grades; the one that crashed fails its
// "grader" check with the console's tail.
func TestGuestCrashCostsOneGrade(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a guest three times: run without -short")
	}
	k := testvm.Default(t)
	bin := testvm.Binary(t)
	root := testvm.ModuleRoot()
	src := filepath.Join(root, lab1.Lab.Dir, lab1.Lab.Solution)
	ctx := context.Background()
	compiled, err := harness.CompileAll(ctx, lab1.Lab, root, t.TempDir(), []harness.Submission{
		{Label: "first", Src: src, Seed: 1}, {Label: "crasher", Src: src, Seed: 2}, {Label: "third", Src: src, Seed: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BPFLAB_TEST_PANIC_LABEL", "crasher")
	var log strings.Builder
	cfg := vmtest.Config{Kernel: k.Path, Init: bin, Accel: "tcg", Stdout: &log, Stderr: &log, Log: testvm.Logger(t), RunTimeout: 5 * time.Minute}
	reports, err := harness.GradeInVM(ctx, lab1.Lab, compiled, k.Alias, cfg, t.TempDir())
	if err != nil {
		t.Fatalf("grading: %v\n%s", err, log.String())
	}
	for _, r := range reports {
		switch r.Source {
		case "crasher":
			last := r.Checks[len(r.Checks)-1]
			if r.Passed() || last.Name != "grader" || !strings.Contains(last.Reason, "panic") {
				t.Errorf("the crashing submission: %+v", r.Checks)
			}
		default:
			if !r.Passed() {
				t.Errorf("%s lost its grade to another submission's crash: failed %v", r.Source, r.Failed())
			}
		}
	}
}
