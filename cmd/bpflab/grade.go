package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/bpflab/bpflab/harness"
	lab1 "github.com/bpflab/bpflab/labs/lab-1"
	lab2 "github.com/bpflab/bpflab/labs/lab-2"
	"github.com/bpflab/bpflab/vmtest"
)

// labs are the labs this binary grades, by ID.
var labs = map[string]*harness.Lab{
	lab1.Lab.ID: lab1.Lab,
	lab2.Lab.ID: lab2.Lab,
}

func labIDs() string {
	var ids []string
	for id := range labs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

// sourceRoot finds the bpflab source tree (labs/ and bpf/): $BPFLAB_ROOT,
// the working directory or a parent, or the parent of the binary's bin/.
func sourceRoot() (string, error) {
	isRoot := func(d string) bool {
		_, err1 := os.Stat(filepath.Join(d, "labs"))
		_, err2 := os.Stat(filepath.Join(d, "bpf", "vmlinux.h"))
		return err1 == nil && err2 == nil
	}
	if r := os.Getenv("BPFLAB_ROOT"); r != "" {
		if isRoot(r) {
			return filepath.Abs(r)
		}
		return "", vmtest.Errorf(vmtest.ClassUsage, "BPFLAB_ROOT=%s has no labs/ and bpf/vmlinux.h", r)
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if isRoot(d) {
				return d, nil
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if d := filepath.Dir(filepath.Dir(exe)); isRoot(d) {
			return d, nil
		}
	}
	return "", vmtest.Errorf(vmtest.ClassUsage, "cannot find the bpflab source tree (labs/ and bpf/vmlinux.h): run from it or set BPFLAB_ROOT")
}

func cmdGrade(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return vmtest.Errorf(vmtest.ClassUsage, "grade needs a lab: bpflab grade LAB [flags] (labs: %s)", labIDs())
	}
	lab, ok := labs[args[0]]
	if !ok {
		return vmtest.Errorf(vmtest.ClassUsage, "unknown lab %q: the labs are %s", args[0], labIDs())
	}
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	var vf vmFlags
	vf.register(fs, "")
	var srcs multiFlag
	fs.Var(&srcs, "src", "C file to grade (repeatable; default: the lab's own file)")
	solution := fs.Bool("solution", false, "grade the reference solution")
	jsonOut := fs.String("json", "", "also write the reports as JSON to FILE")
	parallel := fs.Int("parallel", 0, "kernels graded at once (default: fits the cores and free memory)")
	if err := vf.parse(fs, args[1:]); err != nil {
		return err
	}
	if *parallel <= 0 {
		*parallel = defaultParallel(vf.memory)
	}
	log := newLogger(stderr, vf.verbose)
	root, err := sourceRoot()
	if err != nil {
		return err
	}
	var subs []harness.Submission
	for _, s := range srcs {
		subs = append(subs, harness.Submission{Label: s, Src: s})
	}
	if *solution {
		subs = append(subs, harness.Submission{Label: "solution", Src: filepath.Join(root, lab.Dir, lab.Solution)})
	}
	if len(subs) == 0 {
		p := filepath.Join(root, lab.Dir, lab.Source)
		label := p
		if wd, err := os.Getwd(); err == nil {
			if r, err := filepath.Rel(wd, p); err == nil {
				label = r
			}
		}
		subs = append(subs, harness.Submission{Label: label, Src: p})
	}

	store, ts, err := vf.targets(log)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bpflab-grade-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	compiled, err := harness.CompileAll(ctx, lab, root, tmp, subs)
	if err != nil {
		return err
	}
	if err := fetchAll(ctx, store, ts); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	// Grade on every kernel, up to --parallel at once; print in order.
	type result struct {
		reports []*harness.Report
		err     error
		log     bytes.Buffer
	}
	results := make([]result, len(ts))
	inParallel(len(ts), *parallel, func(i int) {
		t := ts[i]
		r := &results[i]
		if t.host {
			r.reports, r.err = gradeOnHost(ctx, lab, compiled)
			return
		}
		cfg := vf.config(log, &r.log, &r.log)
		cfg.Kernel = t.path
		cfg.Init = self
		if len(ts) > 1 {
			log.Info("grading", "kernel", t.name)
		}
		r.reports, r.err = harness.GradeInVM(ctx, lab, compiled, t.name, cfg, tmp)
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}

	var all []*harness.Report
	passed := true
	var firstErr error
	for i, t := range ts {
		r := results[i]
		if r.err != nil {
			reportFailure(stderr, r.err, &vf, t, []string{self, harness.GuestCommand, "--lab", lab.ID}, nil)
			if r.log.Len() > 0 {
				fmt.Fprintf(stderr, "guest output:\n%s", r.log.String())
			}
			if firstErr == nil {
				firstErr = exitError{vmtest.ClassOf(r.err).ExitCode()}
			}
			continue
		}
		for _, rep := range r.reports {
			rep.Print(stdout, vf.verbose)
			fmt.Fprintln(stdout)
			passed = passed && rep.Passed()
			all = append(all, rep)
		}
	}
	if *jsonOut != "" {
		if err := harness.WriteJSON(*jsonOut, all); err != nil {
			return err
		}
	}
	if len(ts) > 1 {
		printGradeSummary(stdout, all)
	}
	if firstErr != nil {
		return firstErr
	}
	if !passed {
		return exitError{1}
	}
	return nil
}

func printGradeSummary(w io.Writer, rs []*harness.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tSOURCE\tRESULT\tFAILED CHECKS")
	for _, r := range rs {
		res := "PASS"
		if !r.Passed() {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Kernel, r.Source, res, strings.Join(r.Failed(), ","))
	}
	tw.Flush()
}

// gradeOnHost grades on the running kernel (--kernel host): root only.
func gradeOnHost(ctx context.Context, lab *harness.Lab, subs []harness.Compiled) ([]*harness.Report, error) {
	if os.Geteuid() != 0 {
		return nil, vmtest.Errorf(vmtest.ClassUsage, "--kernel host loads BPF programs into this machine's kernel and needs root; the default (a VM) does not")
	}
	return harness.GradeHere(ctx, lab, subs)
}

// cmdGuestGrade is the guest side: bpflab __grade --lab ID --obj L=PATH ...
func cmdGuestGrade(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(harness.GuestCommand, flag.ContinueOnError)
	id := fs.String("lab", "", "lab")
	kernel := fs.String("kernel", "", "kernel name for the reports")
	out := fs.String("out", "-", "where to write the reports")
	var objs multiFlag
	fs.Var(&objs, "obj", "LABEL=PATH of a compiled object (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	lab, ok := labs[*id]
	if !ok {
		return vmtest.Errorf(vmtest.ClassUsage, "unknown lab %q", *id)
	}
	return harness.GuestMain(ctx, lab, objs, *kernel, *out)
}
