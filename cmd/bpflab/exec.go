package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/bpflab/bpflab/vmtest"
	"github.com/hashicorp/go-hclog"
)

// execFlags are the flags of bpflab exec.
type execFlags struct {
	vmFlags
	report string
}

func (e *execFlags) register(fs *flag.FlagSet) {
	e.vmFlags.register(fs)
	fs.StringVar(&e.report, "report", "", "append a JSON line with the outcome and test counts to `FILE`")
}

func cmdExec(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	var ef execFlags
	ef.register(fs)
	vf := &ef.vmFlags
	if err := vf.parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("exec needs a program to run: bpflab exec [flags] PROGRAM [ARGS...]")
	}
	log := newLogger(stderr, vf.verbose)
	store, ts, err := vf.targets(log, stderr, liveOn(stderr, vf.verbose))
	if err != nil {
		return err
	}
	if len(ts) != 1 {
		return usagef("exec runs on one kernel; use 'bpflab run --kernel %s' for several", vf.kernel)
	}
	t := ts[0]
	if err := fetchTarget(ctx, store, &t); err != nil {
		return err
	}
	out, err := execOne(ctx, vf, t, fs.Args(), stdout, stderr, log)
	if ef.report != "" {
		if werr := appendReport(ef.report, out); werr != nil {
			log.Warn("writing the report", "error", werr)
		}
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
		err = payloadf("program %s: %w", argv[0], err)
		o.Exit, o.Class = failureCode(err), failureClass(err)
		return o, err
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
		repro := shellQuote(reproCommand(vf, t, argv, res))
		if dir, kerr := keepCrash(vf.cache, t.name, argv, repro, outTail.Bytes(), errTail.Bytes(), console); kerr == nil {
			defer fmt.Fprintf(stderr, "bpflab: kept the program, its output and the console in %s\n", dir)
		} else {
			log.Warn("keeping the crashed program", "error", kerr)
		}
	}
	if err != nil {
		o.Exit, o.Class = failureCode(err), failureClass(err)
		reportFailure(stderr, err, t, reproCommand(vf, t, argv, res))
		return o, exitError{o.Exit}
	}
	log.Debug("guest run finished", "kernel", t.name, "accel", res.Accel, "boot", res.Boot.Round(time.Millisecond), "total", res.Total.Round(time.Millisecond))
	o.Exit = res.Status.ShellCode()
	if o.Exit != 0 {
		return o, exitError{o.Exit}
	}
	return o, nil
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
