// Package labtest proves a lab's grader on every kernel of the matrix: the
// reference solution passes, the starter fails exactly its TODO checks, and
// each known-wrong program fails exactly the checks it gets wrong.
package labtest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/internal/testvm"
	"github.com/bpflab/bpflab/vmtest"
	"github.com/google/go-cmp/cmp"
)

// Case is a C file of the lab (relative to its directory) and the checks
// it must fail; nil for the solution.
type Case struct {
	Src  string
	Fail []string
}

// Matrix grades every case on every kernel, in one boot per kernel, and
// checks each report; extra, if not nil, checks more of it. Every kernel of
// the matrix has what the labs need, so a SKIP there is an error.
func Matrix(t *testing.T, lab *harness.Lab, cases []Case, extra func(t *testing.T, c Case, r *harness.Report)) {
	kernels := testvm.Kernels(t)
	bin := testvm.Binary(t)
	root := testvm.ModuleRoot()
	var subs []harness.Submission
	for _, c := range cases {
		subs = append(subs, harness.Submission{Label: c.Src, Src: filepath.Join(root, lab.Dir, c.Src)})
	}
	ctx := context.Background()
	compiled, err := harness.CompileAll(ctx, lab, root, t.TempDir(), subs)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kernels {
		t.Run(k.Alias, func(t *testing.T) {
			t.Parallel()
			var log strings.Builder
			cfg := vmtest.Config{Kernel: k.Path, Init: bin, Accel: "tcg", Stdout: &log, Stderr: &log,
				RunTimeout: 5 * time.Minute}
			reports, err := harness.GradeInVM(ctx, lab, compiled, k.Alias, cfg, t.TempDir())
			if err != nil {
				t.Fatalf("grading: %v\nguest output:\n%s", err, log.String())
			}
			for i, c := range cases {
				r := reports[i]
				if diff := cmp.Diff(c.Fail, r.Failed()); diff != "" {
					var sb strings.Builder
					r.Print(&sb, true)
					t.Errorf("%s: failed checks (-want +got):\n%s\n%s", c.Src, diff, sb.String())
				}
				if c.Fail == nil && !r.Passed() {
					t.Errorf("%s does not pass", c.Src)
				}
				if c.Fail != nil && r.Passed() {
					t.Errorf("%s passes, but it is wrong", c.Src)
				}
				for _, ch := range r.Checks {
					if ch.Status == harness.Skip {
						t.Errorf("%s: check %s skipped on %s: %s", c.Src, ch.Name, k.Alias, ch.Reason)
					}
				}
				if extra != nil {
					extra(t, c, r)
				}
			}
		})
	}
}
