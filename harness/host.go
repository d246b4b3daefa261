package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
}

// Compiled is a submission built on the host: Obj is set, or Report holds
// the failed compile check.
type Compiled struct {
	Submission
	Obj    string
	Report *Report
}

// CompileAll builds every submission into dir. Files that do not compile
// get a report with a failed "compile" check naming clang's first errors.
func CompileAll(ctx context.Context, lab *Lab, root, dir string, subs []Submission) ([]Compiled, error) {
	var out []Compiled
	for i, s := range subs {
		c := Compiled{Submission: s}
		src, err := filepath.Abs(s.Src)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(src); err != nil {
			return nil, vmtest.Errorf(vmtest.ClassUsage, "source file %s: %w", s.Src, err)
		}
		obj := filepath.Join(dir, fmt.Sprintf("sub%d.bpf.o", i))
		err = Compile(ctx, src, obj, lab.Includes(root))
		var ce *CompileError
		switch {
		case errors.As(err, &ce):
			c.Report = &Report{Lab: lab.ID, Source: s.Label, Checks: []Check{{
				Name: "compile", Status: Fail,
				Reason: "clang rejected " + ce.Src,
				Hint:   "fix the first error first; the line numbers are in your file",
				Detail: FirstErrors(ce.Msg, 5),
			}}}
		case err != nil:
			return nil, &vmtest.Error{Class: vmtest.ClassInfra, Msg: "compiling " + s.Src + ": " + err.Error(), Err: err}
		default:
			c.Obj = obj
		}
		out = append(out, c)
	}
	return out, nil
}

// GradeInVM grades the compiled objects in one boot of cfg.Kernel and
// returns one report per submission, in order. The guest runs cfg.Init
// (the bpflab binary) with GuestCommand.
func GradeInVM(ctx context.Context, lab *Lab, subs []Compiled, kernel string, cfg vmtest.Config, dir string) ([]*Report, error) {
	out := filepath.Join(dir, "reports-"+sanitize(kernel)+".json")
	args := []string{cfg.Init, GuestCommand, "--lab", lab.ID, "--kernel", kernel, "--out", out}
	files := map[string]string{}
	for _, s := range subs {
		if s.Obj != "" {
			args = append(args, "--obj", s.Label+"="+s.Obj)
			files[s.Obj] = s.Obj
		}
	}
	var graded []*Report
	if len(files) > 0 {
		job := vmtest.Job{Args: args, Dir: dir, Files: files, Collect: []string{out}, Env: []string{"BPFLAB_GUEST=1"}}
		res, err := vmtest.Run(ctx, cfg, job)
		if err != nil {
			return nil, err
		}
		if res.Status.ShellCode() != 0 {
			return nil, &vmtest.Error{Class: vmtest.ClassInfra,
				Msg: fmt.Sprintf("the grader in the guest failed (exit %d)", res.Status.ShellCode()), Console: res.Console}
		}
		if graded, err = ReadJSON(out); err != nil {
			return nil, vmtest.Errorf(vmtest.ClassInfra, "reading the grades from the guest: %w", err)
		}
	}
	return merge(subs, graded, kernel)
}

// GradeHere grades the compiled objects on the running kernel, in this
// process (bpflab grade --kernel host). It needs root.
func GradeHere(ctx context.Context, lab *Lab, subs []Compiled) ([]*Report, error) {
	var graded []*Report
	for _, s := range subs {
		if s.Obj != "" {
			graded = append(graded, GradeObject(ctx, lab, s.Obj, "host", s.Label))
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
			return nil, vmtest.Errorf(vmtest.ClassInfra, "fewer objects were graded than given")
		}
		reports[i], graded = graded[0], graded[1:]
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

// GuestMain grades objects ("label=path") with lab and writes the reports
// to out. It runs in the guest, or on the host with --kernel host.
func GuestMain(ctx context.Context, lab *Lab, objs []string, kernel, out string) error {
	var reports []*Report
	for _, o := range objs {
		label, path, ok := strings.Cut(o, "=")
		if !ok {
			return fmt.Errorf("--obj %q: want LABEL=PATH", o)
		}
		reports = append(reports, GradeObject(ctx, lab, path, kernel, label))
	}
	return WriteJSON(out, reports)
}
