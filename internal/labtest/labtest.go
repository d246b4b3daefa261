// Package labtest proves a lab's grader on every kernel of the matrix: the
// reference solution passes for several scenarios (seeds), the starter
// fails exactly its TODO checks, and each known-wrong program fails
// exactly the checks it gets wrong.
package labtest

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/internal/testvm"
	"github.com/bpflab/bpflab/vmtest"
	"github.com/google/go-cmp/cmp"
)

// Case is a C file of the lab (relative to its directory) and the checks
// it must fail; nil for the solution. MayFail are checks whose verdict
// depends on the scenario's random order for this program (a program that
// kills processes stops calls that would have been judged by them): they
// may fail or pass, and nothing else may.
type Case struct {
	Src     string
	Fail    []string
	MayFail []string
	// Seeds is how many scenarios the case is graded with on each kernel
	// (default: SolutionSeeds for the solution, 1 for others); a wrong
	// program whose mistake shows only by chance (a race) asks for more,
	// see [Stress].
	Seeds int
	// Prog is the directory (in the lab's) of the Go program graded with
	// the C file, for a lab that has one; default: the reference's.
	Prog string
}

// Stress is n under make stress-graders ($BPFLAB_SOLUTION_SEEDS of 20 or
// more), else light: how often to grade a known-wrong program whose
// mistake shows by chance, so make test stays fast and the stress run
// proves it fails every time.
func Stress(n, light int) int {
	if SolutionSeeds() >= 20 {
		return n
	}
	return light
}

// SolutionSeeds is how many scenarios the solution is graded with on each
// kernel: $BPFLAB_SOLUTION_SEEDS, 5 by default (make stress-graders sets
// 100).
func SolutionSeeds() int {
	if n, err := strconv.Atoi(os.Getenv("BPFLAB_SOLUTION_SEEDS")); err == nil && n > 0 {
		return n
	}
	return 5
}

// Matrix grades every case on every kernel, in one boot per kernel, and
// checks each report; extra, if not nil, checks more of it. A case with
// no failures (the solution) is graded with SolutionSeeds seeds, the
// others with one; seeds are random and logged, so a failure names the
// seed that reproduces it. Every kernel of the matrix has what the labs
// need, so a SKIP there is an error.
func Matrix(t *testing.T, lab *harness.Lab, cases []Case, extra func(t *testing.T, c Case, r *harness.Report)) {
	kernels := testvm.Kernels(t)
	bin := testvm.Binary(t)
	root := testvm.ModuleRoot()
	var subs []harness.Submission
	var which []Case
	for _, c := range cases {
		n := 1
		switch {
		case c.Seeds > 0:
			n = c.Seeds
		case c.Fail == nil:
			n = SolutionSeeds()
		}
		prog := ""
		switch {
		case c.Prog != "":
			prog = filepath.Join(root, lab.Dir, c.Prog)
		case lab.ProgSolution != "":
			prog = filepath.Join(root, lab.Dir, lab.ProgSolution)
		}
		for i := 0; i < n; i++ {
			subs = append(subs, harness.Submission{Label: c.Src, Src: filepath.Join(root, lab.Dir, c.Src), Prog: prog})
			which = append(which, c)
		}
	}
	ctx := context.Background()
	compiled, err := harness.CompileAll(ctx, lab, root, t.TempDir(), subs)
	if err != nil {
		t.Fatal(err)
	}
	if lab.CPUs > 1 {
		// Booting each kernel to save its guest with that many vCPUs (the
		// first run on a fresh cache) runs beside other tests, whatever
		// the lab.
		saveGuests(t, kernels, bin, lab.CPUs)
	}
	if lab.Alone {
		// One guest at a time, and no other test's guest beside it (see
		// harness.Lab.Alone for the labs that ask).
		testvm.Exclusive(t)
	}
	for _, k := range kernels {
		t.Run(k.Alias, func(t *testing.T) {
			if !lab.Alone {
				t.Parallel()
			}
			mine := append([]harness.Compiled(nil), compiled...)
			for i := range mine {
				mine[i].Seed = rand.Uint64N(1<<53-1) + 1
			}
			var log strings.Builder
			// Warm starts, as 'bpflab grade' has them: the guests saved
			// for the default cache, shared with the other packages' tests;
			// cold boots with BPFLAB_COLD=1, as 'bpflab grade' has them
			// then, for a binary built once (a new lab's test), whose saved
			// guests no later run would restore.
			cfg := vmtest.Config{Kernel: k.Path, Init: bin, Accel: "tcg", Stdout: &log, Stderr: &log, Log: testvm.Logger(t), CacheDir: testvm.CacheDir(),
				RunTimeout: 5*time.Minute + time.Duration(len(mine))*20*time.Second, Cold: os.Getenv("BPFLAB_COLD") == "1"}
			reports, err := harness.GradeInVM(ctx, lab, mine, k.Alias, cfg, t.TempDir())
			if err != nil {
				repro := []string{"bin/bpflab", "grade", lab.ID, "--kernel", k.Alias, "-v", "--console"}
				for _, c := range cases {
					repro = append(repro, "--src", filepath.Join(lab.Dir, c.Src))
				}
				t.Fatalf("grading: %v\nguest output:\n%s\nreproduce with: %s", err, log.String(), strings.Join(repro, " "))
			}
			for i, c := range which {
				r := reports[i]
				var sb strings.Builder
				r.Print(&sb, true)
				failed := r.Failed()
				if len(c.MayFail) > 0 {
					var keep []string
					for _, f := range failed {
						if !slices.Contains(c.MayFail, f) {
							keep = append(keep, f)
						}
					}
					failed = keep
				}
				if diff := cmp.Diff(c.Fail, failed); diff != "" {
					src := filepath.Join(lab.Dir, c.Src)
					if mine[i].Prog != "" {
						prog := c.Prog
						if prog == "" {
							prog = lab.ProgSolution
						}
						src += " --prog " + filepath.Join(lab.Dir, prog)
					}
					t.Errorf("%s (seed %d; reproduce: bin/bpflab grade %s --kernel %s --seed %d --src %s): failed checks (-want +got):\n%s\n%s",
						c.Src, mine[i].Seed, lab.ID, k.Alias, mine[i].Seed, src, diff, sb.String())
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
					if !lab.Declared(ch.Name) {
						t.Errorf("%s: check %s is not declared by the lab", c.Src, ch.Name)
					}
				}
				if c.Fail == nil {
					// Every declared check ran and passed for the solution.
					got := map[string]bool{}
					for _, ch := range r.Checks {
						got[ch.Name] = ch.Status == harness.Pass
					}
					for _, d := range lab.Checks {
						if !got[d.Name] {
							t.Errorf("%s: declared check %s did not pass (seed %d)", c.Src, d.Name, mine[i].Seed)
						}
					}
				}
				if extra != nil {
					extra(t, c, r)
				}
			}
		})
	}
}

// saveGuests runs a trivial job on every kernel at once, with cpus vCPUs,
// as grading will: where no guest is saved for it yet, that boots the
// kernel and saves one, and grading restores it. A failure here is only
// logged: grading boots the kernel itself.
func saveGuests(t *testing.T, kernels []testvm.Kernel, bin string, cpus int) {
	t.Helper()
	var wg sync.WaitGroup
	for _, k := range kernels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := vmtest.Config{Kernel: k.Path, Init: bin, Accel: "tcg", CPUs: cpus, CacheDir: testvm.CacheDir(),
				Stdout: io.Discard, Stderr: io.Discard, Log: testvm.Logger(t)}
			if _, err := vmtest.Run(context.Background(), cfg, vmtest.Job{Args: []string{bin, "version"}}); err != nil {
				t.Logf("saving a guest of %s with %d vCPUs: %v (grading boots it)", k.Alias, cpus, err)
			}
		}()
	}
	wg.Wait()
}
