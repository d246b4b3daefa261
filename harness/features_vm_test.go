package harness_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/internal/testvm"
	lab6 "github.com/bpflab/bpflab/labs/lab-6"
	"github.com/bpflab/bpflab/vmtest"
)

// TestGuestWithoutAFeatureFails boots the default kernel without bpf among
// its active LSMs: lab 6's reference solution must fail the kernel check
// there (the kernel is new enough to have it), not skip, and nothing
// else may be graded.
func TestGuestWithoutAFeatureFails(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a guest: run without -short")
	}
	k := testvm.Default(t)
	bin := testvm.Binary(t)
	root := testvm.ModuleRoot()
	ctx := context.Background()
	compiled, err := harness.CompileAll(ctx, lab6.Lab, root, t.TempDir(), []harness.Submission{
		{Label: "solution", Src: filepath.Join(root, lab6.Lab.Dir, lab6.Lab.Solution), Seed: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cfg := vmtest.Config{Kernel: k.Path, Init: bin, Accel: "tcg", Stdout: &log, Stderr: &log, Log: testvm.Logger(t),
		RunTimeout: 3 * time.Minute, Cmdline: "lsm=lockdown,capability"}
	reports, err := harness.GradeInVM(ctx, lab6.Lab, compiled, k.Alias, cfg, t.TempDir())
	if err != nil {
		t.Fatalf("grading: %v\n%s", err, log.String())
	}
	r := reports[0]
	var names []string
	for _, c := range r.Checks {
		names = append(names, string(c.Status)+" "+c.Name)
	}
	if got := strings.Join(names, ", "); got != "PASS compile, FAIL kernel" {
		t.Fatalf("checks: %s", got)
	}
	if c := r.Checks[1]; !strings.Contains(c.Reason, "bpf among the active LSMs") || !strings.Contains(c.Reason, "lsm=") {
		t.Errorf("the kernel check does not say what is missing and how to get it: %q", c.Reason)
	}
}
