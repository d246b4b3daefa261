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
	t.Setenv("BPFLAB_TEST_PANIC_LABEL", "crasher")
	reports := gradeSolution(t, lab1.Lab, []string{"first", "crasher", "third"}, nil)
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

// gradeSolution grades the lab's reference solution, once for each label
// (seeds 1, 2, ...), in one guest of the default kernel; edit changes the
// guest's configuration.
func gradeSolution(t *testing.T, lab *harness.Lab, labels []string, edit func(*vmtest.Config)) []*harness.Report {
	t.Helper()
	k := testvm.Default(t)
	bin := testvm.Binary(t)
	root := testvm.ModuleRoot()
	src := filepath.Join(root, lab.Dir, lab.Solution)
	var subs []harness.Submission
	for i, l := range labels {
		subs = append(subs, harness.Submission{Label: l, Src: src, Seed: uint64(i + 1)})
	}
	ctx := context.Background()
	compiled, err := harness.CompileAll(ctx, lab, root, t.TempDir(), subs)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cfg := vmtest.Config{Kernel: k.Path, Init: bin, Accel: "tcg", Stdout: &log, Stderr: &log, Log: testvm.Logger(t), RunTimeout: 5 * time.Minute, CacheDir: testvm.CacheDir()}
	if edit != nil {
		edit(&cfg)
	}
	reports, err := harness.GradeInVM(ctx, lab, compiled, k.Alias, cfg, t.TempDir())
	if err != nil {
		t.Fatalf("grading: %v\n%s", err, log.String())
	}
	return reports
}
