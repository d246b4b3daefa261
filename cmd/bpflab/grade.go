package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bpflab/bpflab/harness"
	_ "github.com/bpflab/bpflab/labs/all"
	"github.com/hashicorp/go-hclog"
)

// labs are the labs this binary grades, by ID.
var labs = func() map[string]*harness.Lab {
	m := map[string]*harness.Lab{}
	for _, l := range harness.Labs() { // every lab labs/all registers
		m[l.ID] = l
	}
	return m
}()

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
		return "", usagef("BPFLAB_ROOT=%s has no labs/ and bpf/vmlinux.h", r)
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
	if d := moduleSource(); d != "" && isRoot(d) {
		return d, nil
	}
	return "", usagef("grading needs the labs' files (labs/ and bpf/vmlinux.h), and this bpflab has none at hand: " +
		"run it inside a clone of the bpflab repository (the labs you edit live there), set BPFLAB_ROOT to one, " +
		"or install with 'go install github.com/bpflab/bpflab/cmd/bpflab@VERSION', which keeps that version's files in Go's module cache")
}

// modulePath is bpflab's Go module.
const modulePath = "github.com/bpflab/bpflab"

// moduleSource is where 'go install github.com/bpflab/bpflab/cmd/bpflab@V'
// left the module's files: GOMODCACHE/github.com/bpflab/bpflab@V (the
// path has no upper-case letters to escape). "" for a binary built from a
// checkout, or when Go is not at hand to say where its cache is.
func moduleSource() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Path != modulePath || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return ""
	}
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return ""
		}
		cache = strings.TrimSpace(string(out))
	}
	if cache == "" {
		return ""
	}
	return filepath.Join(cache, filepath.FromSlash(modulePath)+"@"+bi.Main.Version)
}

// writeLabs lists the labs, with their titles, for help.
func writeLabs(w io.Writer) {
	var ids []string
	for id := range labs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, id := range ids {
		fmt.Fprintf(tw, "  %s\t%s\n", id, labs[id].Title)
	}
	tw.Flush()
}

// gradeFlags are the flags of bpflab grade.
type gradeFlags struct {
	vmFlags
	srcs     multiFlag
	prog     string
	solution bool
	json     string
	seed     uint64
	parallel int
	// A class: --submissions, --shard, --csv, --html.
	submissions string
	shard       string
	csv, html   string
}

func (g *gradeFlags) register(fs *flag.FlagSet) {
	g.vmFlags.register(fs)
	fs.Var(&g.srcs, "src", "C `FILE` to grade (repeatable; default: the lab's own file)")
	fs.BoolVar(&g.solution, "solution", false, "grade the reference solution")
	fs.StringVar(&g.prog, "prog", "", "the `DIR` of the Go program graded with each C file, for a lab that has one (default: the lab's own)")
	fs.StringVar(&g.json, "json", "", "also write the reports as JSON to `FILE` (- for stdout)")
	fs.Uint64Var(&g.seed, "seed", 0, "the scenario's seed, to run the same scenario again (default: a new one each run)")
	fs.IntVar(&g.parallel, "parallel", 0, "guests run at once (default: fits the cores and free memory)")
	fs.StringVar(&g.submissions, "submissions", "", "grade a class: `DIR` holds a C file, or a directory, per student")
	fs.StringVar(&g.shard, "shard", "", "with --submissions, grade the students whose place in name order is `I/N` (I modulo N)")
	fs.StringVar(&g.csv, "csv", "", "with --submissions, also write the class as CSV to `FILE` (- for stdout)")
	fs.StringVar(&g.html, "html", "", "with --submissions, also write the class as an HTML page to `FILE`")
}

// parseGrade parses bpflab grade's arguments: the lab, then flags (flags
// before the lab are taken too). It returns the lab, or flag.ErrHelp
// after printing help to stdout.
func parseGrade(fs *flag.FlagSet, g *gradeFlags, args []string, stdout io.Writer) (*harness.Lab, error) {
	if err := applyConfigFile(fs); err != nil {
		return nil, err
	}
	id := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return nil, err
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
		if err := parseFlags(fs, fs.Args()[1:], stdout); err != nil {
			return nil, err
		}
	}
	if id == "" {
		return nil, usagef("grade needs a lab: bpflab grade LAB [flags] (labs: %s)", labIDs())
	}
	lab, ok := labs[id]
	if !ok {
		return nil, usagef("unknown lab %q: the labs are %s", id, labIDs())
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q: pass C files with --src FILE (see 'bpflab grade -h')", fs.Arg(0))
	}
	if err := g.check(); err != nil {
		return nil, err
	}
	example := filepath.Join(lab.Dir, lab.Source)
	for _, s := range g.srcs {
		if err := checkSource(s, example); err != nil {
			return nil, err
		}
	}
	for _, o := range []struct{ f, p string }{{"--json", g.json}, {"--csv", g.csv}, {"--html", g.html}} {
		if err := checkOutput(o.f, o.p); err != nil {
			return nil, err
		}
	}
	switch {
	case g.submissions == "" && (g.shard != "" || g.csv != "" || g.html != ""):
		return nil, usagef("--shard, --csv and --html are for a class: add --submissions DIR")
	case g.submissions != "" && (len(g.srcs) > 0 || g.solution || g.prog != ""):
		return nil, usagef("--submissions grades a class: put every file to grade in %s instead of --src, --solution or --prog", g.submissions)
	}
	if _, err := parseShard(g.shard); err != nil {
		return nil, err
	}
	return lab, nil
}

func cmdGrade(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	var g gradeFlags
	g.register(fs)
	lab, err := parseGrade(fs, &g, args, stdout)
	if err != nil {
		return err
	}
	vf := &g.vmFlags
	if g.parallel <= 0 {
		g.parallel = defaultParallel(vf.memory)
	}
	// The status line only where nothing else writes to the terminal.
	prog := progressOn(stderr, vf.verbose || vf.console)
	defer prog.Clear()
	log := newLogger(prog.Writer(), vf.verbose)
	root, err := sourceRoot()
	if err != nil {
		return err
	}
	if g.seed == 0 {
		g.seed = rand.Uint64N(1<<53-1) + 1
	}
	// A lab with a Go program grades each C file with the student's (or
	// --prog's); the solution with the reference's.
	goProg := g.prog
	switch {
	case lab.Prog == "" && goProg != "":
		return usagef("--prog: %s has no Go program; only the C file is graded", lab.ID)
	case lab.Prog != "" && goProg == "":
		goProg = filepath.Join(root, lab.Dir, lab.Prog)
	}
	var subs []harness.Submission
	for _, s := range g.srcs {
		subs = append(subs, harness.Submission{Label: s, Src: s, Prog: goProg})
	}
	// A class: every student's submission, or a shard of them; students
	// with nothing to grade get a failed row of their own.
	var missing []student
	if g.submissions != "" {
		class, err := findClass(g.submissions, lab)
		if err != nil {
			return err
		}
		sh, _ := parseShard(g.shard)
		for _, st := range sh.of(class) {
			if st.Missing != "" {
				missing = append(missing, st)
				continue
			}
			subs = append(subs, harness.Submission{Label: st.Name, Src: st.Src, Prog: st.Prog})
		}
		if len(subs) == 0 && len(missing) == 0 {
			return usagef("--shard %s of %d students is empty", g.shard, len(class))
		}
	}
	if g.solution {
		s := harness.Submission{Label: "solution", Src: filepath.Join(root, lab.Dir, lab.Solution)}
		if lab.ProgSolution != "" {
			s.Prog = filepath.Join(root, lab.Dir, lab.ProgSolution)
		}
		subs = append(subs, s)
	}
	if len(subs) == 0 && g.submissions == "" {
		p := filepath.Join(root, lab.Dir, lab.Source)
		label := p
		if wd, err := os.Getwd(); err == nil {
			if r, err := filepath.Rel(wd, p); err == nil {
				label = r
			}
		}
		subs = append(subs, harness.Submission{Label: label, Src: p, Prog: goProg})
	}
	for i := range subs {
		subs[i].Seed = g.seed
		subs[i].FullLog = g.verbose
	}

	store, ts, err := vf.targets(log, prog.Writer(), prog.live)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bpflab-grade-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	prog.Status("compiling %s", plural(len(subs), "file"))
	compiled, err := harness.CompileAll(ctx, lab, root, tmp, subs)
	if err != nil {
		return err
	}
	for i := range ts {
		if t := &ts[i]; t.kernel != nil {
			if _, ok := store.Cached(*t.kernel); !ok {
				prog.Status("fetching kernel %s", t.name)
			}
		}
		if err := fetchTarget(ctx, store, &ts[i]); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	// Grade on every kernel, up to --parallel guests at once; print in
	// order. Many submissions are shared among several guests of a kernel
	// when there are more slots than kernels.
	type result struct {
		reports []*harness.Report
		err     error
		log     bytes.Buffer
	}
	jobs := splitJobs(ts, compiled, g.parallel)
	results := make([]result, len(jobs))
	kp := newKernelProgress(prog, len(jobs))
	inParallel(len(jobs), g.parallel, func(i int) {
		j := jobs[i]
		t := ts[j.target]
		r := &results[i]
		start := time.Now()
		defer func() {
			if ctx.Err() == nil {
				kp.Done(j.name, "%s", kernelVerdict(j.name, r.reports, r.err, time.Since(start)))
			}
		}()
		if t.host {
			kp.Phase(j.name, "grading on")
			r.reports, r.err = gradeOnHost(ctx, lab, j.subs)
			return
		}
		cfg := vf.config(log, &r.log, &r.log)
		cfg.HostView = false // a submission never sees the host's files
		cfg.Kernel = t.path
		cfg.Init = self
		if vf.runTimeout == 0 {
			// A submission takes seconds, and at most
			// harness.SubmissionTimeout.
			cfg.RunTimeout = max(cfg.RunTimeout, time.Duration(len(j.subs))*time.Minute)
		}
		cfg.Log = bootWatch{Logger: cfg.Log, started: func() { kp.Phase(j.name, "grading") }}
		log.Debug("grading", "kernel", t.name, "submissions", len(j.subs))
		kp.Phase(j.name, "booting")
		r.reports, r.err = harness.GradeInVM(ctx, lab, j.subs, t.name, cfg, tmp)
	})
	prog.Clear()
	if ctx.Err() != nil {
		return ctx.Err()
	}

	var all []*harness.Report
	passed := true
	var firstErr error
	for i, j := range jobs {
		t := ts[j.target]
		r := results[i]
		if r.err != nil {
			reportFailure(stderr, r.err, t, gradeRepro(self, lab, &g, t, subs))
			if r.log.Len() > 0 {
				fmt.Fprintf(stderr, "guest output:\n%s", r.log.String())
			}
			if firstErr == nil {
				firstErr = exitError{failureCode(r.err)}
			}
			continue
		}
		for _, rep := range r.reports {
			if g.submissions == "" || vf.verbose {
				rep.Print(stdout, vf.verbose)
				fmt.Fprintln(stdout)
			}
			passed = passed && rep.Passed()
			all = append(all, rep)
		}
	}
	if g.submissions != "" {
		// A class: its table, and its files. The exit status says
		// whether every submission was graded, not how.
		for _, st := range missing {
			for _, t := range ts {
				all = append(all, missingReport(lab, st, t.name))
			}
		}
		printClass(stdout, newClassTable(all))
		if err := writeClass(all, g.json, g.csv, g.html); err != nil {
			return err
		}
		return firstErr
	}
	if g.json != "" {
		if err := harness.WriteJSON(g.json, all); err != nil {
			return fmt.Errorf("writing --json %s: %w", g.json, err)
		}
	}
	if err := recordProgress(root, all); err != nil {
		log.Warn("could not record your progress for bpflab status", "error", err)
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

// guestStarted is the message vmtest logs (at debug level) when the
// guest's init has started: the boot is over and grading begins. If it
// ever changes, the status stays at "booting" until the kernel is done.
const guestStarted = "guest init started"

// bootWatch is a guest's logger that also tells when the boot is over.
type bootWatch struct {
	hclog.Logger
	started func()
}

func (b bootWatch) Debug(msg string, args ...any) {
	if msg == guestStarted {
		b.started()
	}
	b.Logger.Debug(msg, args...)
}

// kernelVerdict is the line that says how grading on a kernel ended.
func kernelVerdict(kernel string, reports []*harness.Report, err error, took time.Duration) string {
	if err != nil {
		return fmt.Sprintf("%s: not graded (%s) after %.1fs; details at the end", kernel, failureClass(err), took.Seconds())
	}
	failed := 0
	for _, r := range reports {
		if !r.Passed() {
			failed++
		}
	}
	verdict := "PASS"
	switch {
	case failed > 0 && len(reports) > 1:
		verdict = fmt.Sprintf("FAIL (%d of %d files)", failed, len(reports))
	case failed > 0:
		verdict = "FAIL"
	}
	return fmt.Sprintf("%s: %s in %.1fs", kernel, verdict, took.Seconds())
}

// gradeRepro is the bpflab grade command that grades the same files on
// kernel t with the same scenario (seed) and guest.
func gradeRepro(self string, lab *harness.Lab, g *gradeFlags, t target, subs []harness.Submission) []string {
	rv := g.vmFlags
	switch {
	case t.host:
		rv.kernel = "host"
	case t.kernel != nil:
		rv.kernel = t.name
	default:
		rv.kernel = t.path
	}
	rv.console = !t.host
	repro := append([]string{self, "grade", lab.ID}, rv.flagArgs(false)...)
	repro = append(repro, "--seed", strconv.FormatUint(g.seed, 10))
	if g.prog != "" {
		repro = append(repro, "--prog", g.prog)
	}
	if g.submissions != "" {
		repro = append(repro, "--submissions", g.submissions)
		if g.shard != "" {
			repro = append(repro, "--shard", g.shard)
		}
		return repro
	}
	for _, s := range subs {
		if s.Label == "solution" && g.solution {
			repro = append(repro, "--solution")
			continue
		}
		repro = append(repro, "--src", s.Label)
	}
	return repro
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
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
		return nil, usagef("--kernel host loads BPF programs into this machine's kernel and needs root; the default (a VM) does not")
	}
	return harness.GradeHere(ctx, lab, subs)
}

// cmdGuestGrade is the guest side: bpflab __grade --lab ID --obj L=PATH ...
func cmdGuestGrade(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(harness.GuestCommand, flag.ContinueOnError)
	id := fs.String("lab", "", "lab")
	kernel := fs.String("kernel", "", "kernel name for the reports")
	out := fs.String("out", "-", "where to write the reports")
	var objs, seeds, progs multiFlag
	fs.Var(&objs, "obj", "LABEL=PATH of a compiled object (repeatable)")
	fs.Var(&seeds, "seed", "the seed of the object before it (repeatable)")
	fs.Var(&progs, "prog", "the user-space program of the object before it, or empty (repeatable)")
	if err := parseFlags(fs, args, os.Stdout); err != nil {
		return err
	}
	lab, ok := labs[*id]
	if !ok {
		return usagef("unknown lab %q", *id)
	}
	var ss []uint64
	for _, s := range seeds {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return usagef("--seed %q: %v", s, err)
		}
		ss = append(ss, n)
	}
	return harness.GuestMain(ctx, lab, objs, ss, progs, *kernel, *out)
}

// cmdWorker grades one object in a process of its own: bpflab __grade-one.
func cmdWorker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(harness.WorkerCommand, flag.ContinueOnError)
	id := fs.String("lab", "", "lab")
	kernel := fs.String("kernel", "", "kernel name for the report")
	label := fs.String("label", "", "the submission's name in the report")
	obj := fs.String("obj", "", "the compiled object")
	prog := fs.String("prog", "", "the submission's user-space program, if the lab has one")
	seed := fs.Uint64("seed", 1, "the scenario's seed")
	if err := parseFlags(fs, args, os.Stdout); err != nil {
		return err
	}
	lab, ok := labs[*id]
	if !ok {
		return usagef("unknown lab %q", *id)
	}
	return harness.WorkerMain(ctx, lab, *label, *obj, *prog, *kernel, *seed)
}

// gradeJob is one guest's share of a grading run: some submissions on one
// target.
type gradeJob struct {
	target int
	subs   []harness.Compiled
	name   string // the kernel, and the part when there are several
}

// splitJobs shares the submissions among guests: one per target, or, when
// there are more slots (parallel) than targets and many submissions,
// several per target, each with at least minShare submissions, so that
// every slot has work and boots stay few.
func splitJobs(ts []target, subs []harness.Compiled, parallel int) []gradeJob {
	const minShare = 4
	var jobs []gradeJob
	for i, t := range ts {
		parts := 1
		if !t.host && len(ts) < parallel {
			parts = max(1, min(parallel/len(ts), len(subs)/minShare))
		}
		for p := 0; p < parts; p++ {
			// Contiguous shares, so reports come out in the files' order.
			j := gradeJob{target: i, name: t.name, subs: subs[p*len(subs)/parts : (p+1)*len(subs)/parts]}
			if parts > 1 {
				j.name = fmt.Sprintf("%s (%d/%d)", t.name, p+1, parts)
			}
			jobs = append(jobs, j)
		}
	}
	return jobs
}
