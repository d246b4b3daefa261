package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bpflab/bpflab/vmtest"
)

// GuestCommand is the hidden bpflab subcommand that grades compiled
// objects inside a guest.
const GuestCommand = "__grade"

// Submission is one C file to grade.
type Submission struct {
	// Label names it in reports (a path, or "solution").
	Label string
	Src   string
	// Seed makes the scenario it is graded with.
	Seed uint64
	// FullLog keeps a verifier rejection's whole log in the report (bpflab
	// grade -v), not only its tail.
	FullLog bool
	// Prog is the directory of the submission's user-space Go program,
	// for a lab that has one ([Lab.Prog]).
	Prog string
}

// Compiled is a submission built on the host: Obj is set, or Report holds
// the failed compile check.
type Compiled struct {
	Submission
	Obj    string
	Report *Report
	// Files is the directory of the lab's own programs ([Lab.Build]).
	Files string
	// Prog is the submission's user-space program, built, or "".
	Prog string
}

// CompileAll builds every submission into dir. Files that do not compile
// get a report with a failed "compile" check naming clang's first errors.
func CompileAll(ctx context.Context, lab *Lab, root, dir string, subs []Submission) ([]Compiled, error) {
	files := ""
	built := make(chan error, 1)
	if lab.Build != nil || lab.Trigger != "" {
		files = filepath.Join(dir, "lab-files")
		if err := os.Mkdir(files, 0o755); err != nil {
			return nil, err
		}
		// The lab's programs build while the submissions compile.
		go func() { built <- lab.BuildFiles(ctx, root, files) }()
	} else {
		built <- nil
	}
	out, err := compileSubmissions(ctx, lab, root, dir, subs, files)
	if berr := <-built; berr != nil {
		return nil, berr
	}
	return out, err
}

// compileSubmissions is CompileAll's part for the submissions; files is
// the directory of the lab's programs.
func compileSubmissions(ctx context.Context, lab *Lab, root, dir string, subs []Submission, files string) ([]Compiled, error) {
	var out []Compiled
	progs := map[string]string{} // source directory: binary
	objs := map[string]string{}  // source file: object
	for i, s := range subs {
		c := Compiled{Submission: s, Files: files}
		if s.Prog != "" {
			bin, ok := progs[s.Prog]
			if !ok {
				bin = filepath.Join(dir, fmt.Sprintf("prog%d", len(progs)))
				err := BuildGo(ctx, root, s.Prog, bin)
				var ce *CompileError
				switch {
				case errors.As(err, &ce):
					c.Report = &Report{Lab: lab.ID, Source: s.Label, Seed: s.Seed, Checks: []Check{{
						Name: "compile", Status: Fail,
						Reason: "go build rejected " + ce.Src,
						Hint:   "fix the first error first; the line numbers are in your Go files",
						Detail: FirstErrors(ce.Msg, 8),
					}}}
					out = append(out, c)
					continue
				case err != nil:
					return nil, fmt.Errorf("building %s: %w", s.Prog, err)
				}
				progs[s.Prog] = bin
			}
			c.Prog = bin
		}
		src, err := filepath.Abs(s.Src)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(src); err != nil {
			return nil, &SourceError{Path: s.Src, Err: err}
		}
		if prev, ok := objs[src]; ok {
			// The same file again (another seed): the same object.
			c.Obj = prev
			out = append(out, c)
			continue
		}
		obj := filepath.Join(dir, fmt.Sprintf("sub%d.bpf.o", i))
		err = Compile(ctx, src, obj, lab.Includes(root))
		var ce *CompileError
		switch {
		case errors.As(err, &ce):
			c.Report = &Report{Lab: lab.ID, Source: s.Label, Seed: s.Seed, Checks: []Check{{
				Name: "compile", Status: Fail,
				Reason: "clang rejected " + ce.Src,
				Hint:   compileHint(ce.Msg),
				Detail: FirstErrors(ce.Msg, 5),
			}}}
		case err != nil:
			return nil, fmt.Errorf("compiling %s: %w", s.Src, err)
		default:
			c.Obj = obj
			objs[src] = obj
		}
		out = append(out, c)
	}
	return out, nil
}

// compileHint is advice for clang's rejection msg.
func compileHint(msg string) string {
	switch {
	case strings.Contains(msg, "Invalid usage of the XADD return value"):
		// The atomic add of BPF's first instruction sets returns
		// nothing (a fetch needs kernel 5.12 and -mcpu=v3).
		return "clang cannot use the value __sync_fetch_and_add returns here: call it as a statement, " +
			"__sync_fetch_and_add(count, 1);, and read the count again if you need it"
	case strings.Contains(msg, "clang crashed"):
		return "clang itself crashed on this file (not your mistake alone): change the line it names, or write the construct another way"
	}
	return "fix the first error first; the line numbers are in your file"
}

// GradeInVM grades the compiled objects in one boot of cfg.Kernel and
// returns one report per submission, in order. The guest runs cfg.Init
// (the bpflab binary) with GuestCommand.
func GradeInVM(ctx context.Context, lab *Lab, subs []Compiled, kernel string, cfg vmtest.Config, dir string) ([]*Report, error) {
	var graded []*Report
	for _, b := range batches(subs) {
		g, err := gradeBatch(ctx, lab, b, kernel, cfg, dir)
		if err != nil {
			return nil, err
		}
		graded = append(graded, g...)
	}
	return merge(subs, graded, kernel)
}

// bootBudget bounds the bytes of submitted files (objects and Go
// programs) that one boot grades: they are unpacked into the guest's
// memory, beside the grader and the lab's own files. More are graded in
// further boots, and a submission heavier than that in a boot of its own,
// so no submission's size costs another its grade.
const bootBudget = 64 << 20

// batches splits subs, in order, into runs whose files weigh at most
// bootBudget together (each at least one submission).
func batches(subs []Compiled) [][]Compiled {
	var out [][]Compiled
	var cur []Compiled
	var size int64
	seen := map[string]bool{}
	weight := func(s Compiled) int64 {
		var n int64
		for _, f := range []string{s.Obj, s.Prog} {
			if f == "" || seen[f] {
				continue
			}
			if fi, err := os.Stat(f); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	for _, s := range subs {
		n := weight(s)
		if countObjs(cur) > 0 && size+n > bootBudget {
			out = append(out, cur)
			cur, size, seen = nil, 0, map[string]bool{}
			n = weight(s)
		}
		cur = append(cur, s)
		size += n
		seen[s.Obj], seen[s.Prog] = true, true
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// gradeBatch grades the compiled objects of subs in one boot, and returns
// their reports in order.
func gradeBatch(ctx context.Context, lab *Lab, subs []Compiled, kernel string, cfg vmtest.Config, dir string) ([]*Report, error) {
	graded, err := gradeBoot(ctx, lab, subs, kernel, cfg, dir)
	var ve *vmtest.Error
	if err == nil || !errors.As(err, &ve) || !guestDied(ve.Class) || countObjs(subs) < 2 {
		return graded, err
	}
	// The guest died (a kernel crash, a hang, memory) with several
	// submissions in it: grade each in a boot of its own, so one that
	// brings the kernel down costs only its own grade.
	graded = nil
	for _, s := range subs {
		if s.Obj == "" {
			continue
		}
		one, err := gradeBoot(ctx, lab, []Compiled{s}, kernel, cfg, dir)
		if err != nil {
			if ctx.Err() != nil || !errors.As(err, &ve) || !guestDied(ve.Class) {
				return nil, err
			}
			r := &Report{Lab: lab.ID, Kernel: kernel, Source: s.Label, Seed: s.Seed, Checks: []Check{{
				Name: "grader", Status: Fail,
				Reason: fmt.Sprintf("the guest's kernel went down while grading this submission (%s): %s", ve.Class, ve.Msg),
				Hint:   "the other submissions of this run were graded in boots of their own; look at the console lines below",
				Detail: strings.Join(tail(ve.Console, 20), "\n"),
			}}}
			one = []*Report{r}
		}
		graded = append(graded, one...)
	}
	return graded, nil
}

func guestDied(c vmtest.Class) bool {
	return c == vmtest.ClassPanic || c == vmtest.ClassTimeout || c == vmtest.ClassOOM
}

func countObjs(subs []Compiled) int {
	n := 0
	for _, s := range subs {
		if s.Obj != "" {
			n++
		}
	}
	return n
}

func tail(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

// gradeBoot grades the compiled objects of subs in one boot and returns
// their reports, in order.
func gradeBoot(ctx context.Context, lab *Lab, subs []Compiled, kernel string, cfg vmtest.Config, dir string) ([]*Report, error) {
	// A name of this boot's own: guests of one kernel may grade at once.
	f, err := os.CreateTemp(dir, "reports-"+sanitize(kernel)+"-*.json")
	if err != nil {
		return nil, err
	}
	out := f.Name()
	f.Close()
	_ = os.Remove(out)
	defer os.Remove(out)
	args := []string{cfg.Init, GuestCommand, "--lab", lab.ID, "--kernel", kernel, "--out", out}
	files := map[string]string{}
	for _, s := range subs {
		if s.Obj != "" {
			args = append(args, "--obj", s.Label+"="+s.Obj, "--seed", strconv.FormatUint(s.Seed, 10), "--prog", s.Prog)
			files[s.Obj] = s.Obj
			if s.Prog != "" {
				files[s.Prog] = s.Prog
			}
		}
	}
	if len(files) == 0 {
		return nil, nil
	}
	env := []string{"BPFLAB_GUEST=1"}
	if d := subs[0].Files; d != "" {
		ents, err := os.ReadDir(d)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			p := filepath.Join(d, e.Name())
			files[p] = p
		}
		env = append(env, labFilesEnv+"="+d)
	}
	if lab.CPUs > cfg.CPUs {
		cfg.CPUs = lab.CPUs
	}
	for _, s := range subs {
		if s.FullLog {
			env = append(env, fullLogEnv+"=1")
			break
		}
	}
	if v := os.Getenv(testPanicEnv); v != "" {
		env = append(env, testPanicEnv+"="+v)
	}
	job := vmtest.Job{Args: args, Dir: dir, Files: files, Collect: []string{out}, Env: env}
	res, err := vmtest.Run(ctx, cfg, job)
	if err != nil {
		return nil, err
	}
	if res.Status.ShellCode() != 0 {
		return nil, &vmtest.Error{Class: vmtest.ClassInfra,
			Msg: fmt.Sprintf("the grader in the guest failed (exit %d)", res.Status.ShellCode()), Console: res.Console}
	}
	graded, err := ReadJSON(out)
	if err != nil {
		return nil, fmt.Errorf("reading the grades from the guest: %w", err)
	}
	return graded, nil
}

// fullLogEnv asks the guest's graders for whole verifier logs.
const fullLogEnv = "BPFLAB_FULL_LOG"

// testPanicEnv names a submission label at which the guest's grader crashes
// the kernel on purpose (sysrq 'c'): it exists for the test that proves the
// other submissions are graded in boots of their own.
const testPanicEnv = "BPFLAB_TEST_PANIC_LABEL"

// GradeHere grades the compiled objects on the running kernel, in this
// process (bpflab grade --kernel host). It needs root.
func GradeHere(ctx context.Context, lab *Lab, subs []Compiled) ([]*Report, error) {
	var graded []*Report
	for _, s := range subs {
		if s.FullLog {
			os.Setenv(fullLogEnv, "1")
		}
		if s.Files != "" {
			os.Setenv(labFilesEnv, s.Files)
		}
		if s.Obj != "" {
			graded = append(graded, Supervise(ctx, lab, s.Label, s.Obj, s.Prog, "host", s.Seed))
		}
	}
	return merge(subs, graded, "host")
}

// merge puts the graded reports back among the submissions that did not
// compile, in the submissions' order.
func merge(subs []Compiled, graded []*Report, kernel string) ([]*Report, error) {
	reports := make([]*Report, len(subs))
	for i, s := range subs {
		if s.Report != nil {
			r := *s.Report
			r.Kernel = kernel
			reports[i] = &r
			continue
		}
		if len(graded) == 0 {
			return nil, errors.New("fewer objects were graded than given")
		}
		reports[i], graded = graded[0], graded[1:]
	}
	for i, r := range reports {
		r.Seal(subs[i].Src)
	}
	return reports, nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}

// SourceError is a submission's C file that cannot be read: a mistake in
// the request, not in the program.
type SourceError struct {
	Path string
	Err  error
}

func (e *SourceError) Error() string { return "source file " + e.Path + ": " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }
