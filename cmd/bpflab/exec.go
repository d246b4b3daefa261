package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bpflab/bpflab/vmtest"
	"github.com/hashicorp/go-hclog"
)

// vmFlags are the flags shared by every command that boots a guest.
type vmFlags struct {
	storeFlags
	kernel      string
	accel       string
	memory      int
	cpus        int
	bootTimeout time.Duration
	runTimeout  time.Duration
	console     bool
	verbose     bool
	env         multiFlag
	qemuArgs    multiFlag
	cmdline     string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func (v *vmFlags) register(fs *flag.FlagSet, defaultKernel string) {
	v.storeFlags.register(fs)
	fs.StringVar(&v.kernel, "kernel", envOr("BPFLAB_KERNEL", defaultKernel), "kernel: an alias (6.1), a version prefix (7.3), all, host, or a path to a vmlinuz (env BPFLAB_KERNEL)")
	fs.StringVar(&v.accel, "accel", envOr("BPFLAB_ACCEL", "auto"), "accelerator: auto (KVM if a boot proves it works, else TCG), kvm or tcg")
	fs.IntVar(&v.memory, "memory", 512, "guest memory in MiB")
	fs.IntVar(&v.cpus, "cpus", 1, "guest vCPUs")
	fs.DurationVar(&v.bootTimeout, "boot-timeout", 60*time.Second, "deadline for the guest's init to start")
	fs.DurationVar(&v.runTimeout, "run-timeout", 0, "deadline for the program (default 10m, or the test's -test.timeout plus 1m)")
	fs.BoolVar(&v.console, "console", false, "print the kernel console to stderr")
	fs.BoolVar(&v.verbose, "v", false, "verbose: debug logs, the QEMU command line, and checks' details in full")
	fs.BoolVar(&v.verbose, "verbose", false, "same as -v") // hidden from help: the flag is -v
	fs.Var(&v.env, "env", "`KEY=VALUE` to set in the guest (repeatable)")
	fs.Var(&v.qemuArgs, "qemu-arg", "extra QEMU `argument` (repeatable; for debugging)")
	fs.StringVar(&v.cmdline, "cmdline", "", "appended to the kernel command line")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (v *vmFlags) config(log hclog.Logger, stdout, stderr io.Writer) vmtest.Config {
	cfg := vmtest.Config{
		MemoryMiB:   v.memory,
		CPUs:        v.cpus,
		Accel:       v.accel,
		BootTimeout: v.bootTimeout,
		RunTimeout:  v.runTimeout,
		Stdout:      stdout,
		Stderr:      stderr,
		CacheDir:    v.cache,
		QEMUArgs:    v.qemuArgs,
		Cmdline:     v.cmdline,
		Log:         log.Named("vm"),
	}
	if v.console {
		cfg.Console = stderr
	}
	return cfg
}

func cmdExec(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	var vf vmFlags
	vf.register(fs, "")
	report := fs.String("report", "", "append a JSON line with the outcome and test counts to `FILE`")
	if err := vf.parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return vmtest.Errorf(vmtest.ClassUsage, "exec needs a program to run: bpflab exec [flags] PROGRAM [ARGS...]")
	}
	log := newLogger(stderr, vf.verbose)
	store, ts, err := vf.targets(log)
	if err != nil {
		return err
	}
	if len(ts) != 1 {
		return vmtest.Errorf(vmtest.ClassUsage, "exec runs on one kernel; use 'bpflab run --kernel %s' for several", vf.kernel)
	}
	t := ts[0]
	if err := fetchTarget(ctx, store, &t); err != nil {
		return err
	}
	out, err := execOne(ctx, &vf, t, fs.Args(), stdout, stderr, log)
	if *report != "" {
		if werr := appendReport(*report, out); werr != nil {
			log.Warn("writing the report", "error", werr)
		}
	}
	return err
}

// outcome is what one exec reports to 'bpflab run'.
type outcome struct {
	Kernel  string     `json:"kernel"`
	Program string     `json:"program"`
	Exit    int        `json:"exit"`
	Class   string     `json:"class,omitempty"`
	Pass    int        `json:"pass"`
	Fail    int        `json:"fail"`
	Skip    int        `json:"skip"`
	Seconds float64    `json:"seconds"`
	Tests   []testCase `json:"tests,omitempty"`
}

var reportMu sync.Mutex

func appendReport(p string, o outcome) error {
	reportMu.Lock()
	defer reportMu.Unlock()
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	// One write of a line is atomic for O_APPEND files, so parallel execs
	// of one go test never mix their lines.
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// execOne runs argv on target t and returns its outcome; a non-nil error
// carries the exit code.
func execOne(ctx context.Context, vf *vmFlags, t target, argv []string, stdout, stderr io.Writer, log hclog.Logger) (o outcome, _ error) {
	start := time.Now()
	o = outcome{Kernel: t.name, Program: filepath.Base(argv[0])}
	counter := &testCounter{}
	stdout = io.MultiWriter(stdout, counter)
	defer func() {
		counter.flush()
		o.Pass, o.Fail, o.Skip, o.Tests = counter.pass, counter.fail, counter.skip, counter.cases
		o.Seconds = time.Since(start).Seconds()
	}()

	prog, err := exec.LookPath(argv[0])
	if err != nil {
		o.Exit, o.Class = vmtest.ClassPayload.ExitCode(), vmtest.ClassPayload.String()
		return o, vmtest.Errorf(vmtest.ClassPayload, "program %s: %w", argv[0], err)
	}
	if prog, err = filepath.Abs(prog); err != nil {
		return o, err
	}
	argv = append([]string{prog}, argv[1:]...)
	dir, err := os.Getwd()
	if err != nil {
		return o, err
	}

	if t.host {
		return runOnHost(ctx, argv, stdout, stderr, &o)
	}

	job := vmtest.Job{
		Args:    argv,
		Dir:     dir,
		Env:     guestEnv(vf.env),
		ShipDir: true,
	}
	testTimeout := outputsOf(&job)
	outTail, errTail := &tailBuffer{max: 4 << 20}, &tailBuffer{max: 4 << 20}
	cfg := vf.config(log, io.MultiWriter(stdout, outTail), io.MultiWriter(stderr, errTail))
	cfg.Kernel = t.path
	if vf.runTimeout == 0 && testTimeout > 0 {
		cfg.RunTimeout = testTimeout + time.Minute
	}
	res, err := vmtest.Run(ctx, cfg, job)
	if ctx.Err() != nil {
		return o, ctx.Err()
	}
	if crashed(err, res, errTail.Bytes()) {
		var console []string
		var verr *vmtest.Error
		if errors.As(err, &verr) {
			console = verr.Console
		} else if res != nil {
			console = res.Console
		}
		repro := vmtest.ShellQuote(reproCommand(vf, t, argv, res))
		if dir, kerr := keepCrash(vf.cache, t.name, argv, repro, outTail.Bytes(), errTail.Bytes(), console); kerr == nil {
			defer fmt.Fprintf(stderr, "bpflab: kept the program, its output and the console in %s\n", dir)
		} else {
			log.Warn("keeping the crashed program", "error", kerr)
		}
	}
	if err != nil {
		c := vmtest.ClassOf(err)
		o.Exit, o.Class = c.ExitCode(), c.String()
		reportFailure(stderr, err, t, reproCommand(vf, t, argv, res))
		return o, exitError{c.ExitCode()}
	}
	log.Debug("guest run finished", "kernel", t.name, "accel", res.Accel, "boot", res.Boot.Round(time.Millisecond), "total", res.Total.Round(time.Millisecond))
	o.Exit = res.Status.ShellCode()
	if o.Exit != 0 {
		return o, exitError{o.Exit}
	}
	return o, nil
}

// reportFailure prints the one-line reason, the console tail where it
// explains the failure, and repro, a command that reproduces the run.
func reportFailure(w io.Writer, err error, t target, repro []string) {
	var verr *vmtest.Error
	errors.As(err, &verr)
	c := vmtest.ClassOf(err)
	fmt.Fprintf(w, "bpflab: kernel %s: %v [%s, exit %d]\n", t.name, err, c, c.ExitCode())
	if verr != nil && len(verr.Console) > 0 {
		fmt.Fprintln(w, "bpflab: last lines of the kernel console:")
		for _, l := range verr.Console {
			fmt.Fprintf(w, "  | %s\n", l)
		}
	}
	fmt.Fprintf(w, "bpflab: reproduce with: %s\n", vmtest.ShellQuote(repro))
}

// reproCommand is a bpflab command line that boots the same guest and runs
// the same program, with the console shown.
func reproCommand(vf *vmFlags, t target, argv []string, res *vmtest.Result) []string {
	self, _ := os.Executable()
	repro := []string{self, "exec", "--kernel", t.path, "--console"}
	if res != nil && res.Accel != "" {
		repro = append(repro, "--accel", res.Accel)
	}
	repro = append(repro, vf.nonDefault()...)
	repro = append(repro, "--")
	return append(repro, argv...)
}

// nonDefault lists the VM flags whose values differ from the defaults, so a
// reproducing command line boots the same guest.
func (v *vmFlags) nonDefault() []string {
	var out []string
	if v.memory != 512 {
		out = append(out, "--memory", fmt.Sprint(v.memory))
	}
	if v.cpus != 1 {
		out = append(out, "--cpus", fmt.Sprint(v.cpus))
	}
	if v.bootTimeout != 60*time.Second {
		out = append(out, "--boot-timeout", v.bootTimeout.String())
	}
	if v.runTimeout != 0 {
		out = append(out, "--run-timeout", v.runTimeout.String())
	}
	for _, e := range v.env {
		out = append(out, "--env", e)
	}
	for _, a := range v.qemuArgs {
		out = append(out, "--qemu-arg="+a)
	}
	if v.cmdline != "" {
		out = append(out, "--cmdline", v.cmdline)
	}
	return out
}

func runOnHost(ctx context.Context, argv []string, stdout, stderr io.Writer, o *outcome) (outcome, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return *o, nil
	case errors.As(err, &ee):
		o.Exit = ee.ExitCode()
		if o.Exit < 0 {
			o.Exit = 128 + 9
		}
		return *o, exitError{o.Exit}
	}
	o.Exit = vmtest.ClassPayload.ExitCode()
	return *o, vmtest.Errorf(vmtest.ClassPayload, "running %s: %w", argv[0], err)
}

// guestEnv is the payload's environment: a clean base, the host's Go and
// bpflab settings, and --env values.
func guestEnv(extra []string) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root",
		"TMPDIR=/tmp",
		"BPFLAB_GUEST=1",
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "BPFLAB_GUEST":
		case strings.HasPrefix(k, "BPFLAB_"), k == "CI", k == "TERM",
			k == "GOTRACEBACK", k == "GODEBUG", k == "GOMAXPROCS", k == "GOCOVERDIR", k == "GOFLAGS":
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// outputFlags are go test binary flags that name files the binary writes.
var outputFlags = []string{"coverprofile", "cpuprofile", "memprofile", "blockprofile", "mutexprofile", "trace"}

// outputsOf finds the files a test binary will write (coverage, profiles)
// so the guest creates their directories and sends them back, and returns
// the binary's -test.timeout if it has one.
func outputsOf(job *vmtest.Job) time.Duration {
	vals := map[string]string{}
	for _, a := range job.Args[1:] {
		a = strings.TrimLeft(a, "-")
		k, v, ok := strings.Cut(a, "=")
		if ok && strings.HasPrefix(k, "test.") {
			vals[strings.TrimPrefix(k, "test.")] = v
		}
	}
	abs := func(base, p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	outdir := job.Dir
	if d := vals["outputdir"]; d != "" {
		outdir = abs(job.Dir, d)
		job.Mkdirs = append(job.Mkdirs, outdir)
	}
	for _, f := range outputFlags {
		if v := vals[f]; v != "" {
			p := abs(outdir, v)
			job.Mkdirs = append(job.Mkdirs, filepath.Dir(p))
			job.Collect = append(job.Collect, p)
		}
	}
	if d := vals["gocoverdir"]; d != "" {
		p := abs(job.Dir, d)
		job.Mkdirs = append(job.Mkdirs, p)
		job.Collect = append(job.Collect, p)
	}
	if d := os.Getenv("GOCOVERDIR"); d != "" {
		job.Mkdirs = append(job.Mkdirs, d)
		job.Collect = append(job.Collect, d)
	}
	if v := vals["timeout"]; v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return 0
}

// testCase is one test's result line.
type testCase struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"` // PASS, FAIL or SKIP
	Seconds float64 `json:"seconds"`
}

// testCounter reads go test result lines in a test binary's output, plain
// (-v) or in the framing test2json reads (-json).
type testCounter struct {
	buf              bytes.Buffer
	pass, fail, skip int
	cases            []testCase
}

var resultLine = regexp.MustCompile(`^\x16?\s*--- (PASS|FAIL|SKIP): (\S+) \(([0-9.]+)s\)`)

func (c *testCounter) Write(p []byte) (int, error) {
	c.buf.Write(p)
	for {
		i := bytes.IndexByte(c.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		c.line(string(c.buf.Next(i + 1)))
	}
	return len(p), nil
}

func (c *testCounter) flush() {
	if c.buf.Len() > 0 {
		c.line(c.buf.String())
		c.buf.Reset()
	}
}

func (c *testCounter) line(l string) {
	m := resultLine.FindStringSubmatch(l)
	if m == nil {
		return
	}
	secs, _ := strconv.ParseFloat(m[3], 64)
	c.cases = append(c.cases, testCase{Name: m[2], Status: m[1], Seconds: secs})
	switch m[1] {
	case "PASS":
		c.pass++
	case "FAIL":
		c.fail++
	case "SKIP":
		c.skip++
	}
}

// readReports reads the outcome lines 'bpflab exec --report' appended.
func readReports(p string) ([]outcome, error) {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	var out []outcome
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var o outcome
		if err := json.Unmarshal(sc.Bytes(), &o); err == nil {
			out = append(out, o)
		}
	}
	return out, sc.Err()
}
