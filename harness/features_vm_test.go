package harness_test

import (
	"strings"
	"testing"

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
	reports := gradeSolution(t, lab6.Lab, []string{"solution"}, func(c *vmtest.Config) { c.Cmdline = "lsm=lockdown,capability" })
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
