package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"
)

// kernelResult is one row of the summary 'bpflab run' ends with.
type kernelResult struct {
	Kernel  string     `json:"kernel"`
	Result  string     `json:"result"`
	Exit    int        `json:"exit"`
	Pass    int        `json:"pass"`
	Fail    int        `json:"fail"`
	Skip    int        `json:"skip"`
	Seconds float64    `json:"seconds"`
	Tests   []testCase `json:"tests,omitempty"`
	program string
}

// defaultParallel fits the machine: one guest per core, and no more than
// the free memory holds with room to spare.
func defaultParallel(memoryMiB int) int {
	n := runtime.NumCPU()
	if avail := availableMiB(); avail > 0 {
		if byMem := (avail - 1024) / (memoryMiB + 256); byMem < n {
			n = byMem
		}
	}
	return max(1, n)
}

func availableMiB() int { return meminfoMiB("MemAvailable") }

// runFlags are the flags of bpflab run.
type runFlags struct {
	vmFlags
	parallel int
	json     string
	junit    string
}

func (r *runFlags) register(fs *flag.FlagSet) {
	r.vmFlags.register(fs)
	fs.IntVar(&r.parallel, "parallel", 0, "kernels run at once (default: fits the cores and free memory)")
	fs.StringVar(&r.json, "json", "", "write the summary as JSON to `FILE`")
	fs.StringVar(&r.junit, "junit", "", "write the results as JUnit XML to `FILE`")
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var rf runFlags
	rf.register(fs)
	vf := &rf.vmFlags
	if err := vf.parse(fs, args, stdout); err != nil {
		return err
	}
	if err := checkOutput("--json", rf.json); err != nil {
		return err
	}
	if err := checkOutput("--junit", rf.junit); err != nil {
		return err
	}
	cmdline := fs.Args()
	if len(cmdline) == 0 {
		return usagef("run needs a command: bpflab run [flags] -- go test ./...")
	}
	if isGoTest(cmdline) {
		// Refused now, not once per kernel after the downloads.
		if _, err := goExecQuote(vf.flagArgs(true)); err != nil {
			return err
		}
	}
	if rf.parallel <= 0 {
		rf.parallel = defaultParallel(vf.memory)
	}
	log := newLogger(stderr, vf.verbose)
	store, ts, err := vf.targets(log, stderr, liveOn(stderr, vf.verbose))
	if err != nil {
		return err
	}
	if err := fetchAll(ctx, store, ts); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bpflab-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// With several kernels, each output line carries its kernel's name, and
	// lines of different kernels never mix.
	var outMu sync.Mutex
	results := make([]kernelResult, len(ts))
	inParallel(len(ts), rf.parallel, func(i int) {
		t := ts[i]
		if ctx.Err() != nil {
			return
		}
		kout, kerr := io.Writer(stdout), io.Writer(stderr)
		if len(ts) > 1 {
			po := &prefixWriter{mu: &outMu, w: stdout, prefix: "[" + t.name + "] "}
			pe := &prefixWriter{mu: &outMu, w: stderr, prefix: "[" + t.name + "] "}
			defer po.Flush()
			defer pe.Flush()
			kout, kerr = po, pe
		}
		report := filepath.Join(tmp, fmt.Sprintf("report-%d.jsonl", i))
		start := time.Now()
		kr, err := runOnKernel(ctx, vf, t, cmdline, report, kout, kerr)
		results[i] = summarise(t, kr, err, report, time.Since(start), kerr)
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	printSummary(stdout, results)
	if rf.json != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(rf.json, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if rf.junit != "" {
		if err := writeJUnit(rf.junit, results); err != nil {
			return err
		}
	}
	for _, r := range results {
		if r.Exit != 0 {
			return exitError{r.Exit}
		}
	}
	return nil
}

// summarise is the summary's row for kernel t: the results of go test's
// events, or else of the reports, with the class of a failure of bpflab's
// own from the reports.
func summarise(t target, kr kernelRun, err error, report string, took time.Duration, stderr io.Writer) kernelResult {
	r := kernelResult{Kernel: t.name, Exit: kr.exit, Seconds: took.Seconds()}
	outs, _ := readReports(report)
	class := ""
	for _, o := range outs {
		if !kr.counted {
			r.Tests = append(r.Tests, o.Tests...)
		}
		r.program = o.Program
		if o.Class != "" && class == "" {
			class = o.Class
		}
	}
	if kr.counted {
		r.Tests = kr.tests
	}
	for _, tc := range r.Tests {
		switch tc.Status {
		case "PASS":
			r.Pass++
		case "FAIL":
			r.Fail++
		case "SKIP":
			r.Skip++
		}
	}
	switch {
	case err != nil && kr.exit == 0:
		r.Result, r.Exit = "error", failureCode(err)
		fmt.Fprintf(stderr, "bpflab: kernel %s: %v\n", t.name, err)
	case class != "":
		r.Result = class
	case kr.exit == 0:
		r.Result = "ok"
	default:
		r.Result = "FAIL"
	}
	return r
}

// inParallel calls fn for 0..n-1, at most par at a time, and waits for all.
// It starts from the end: the lock lists kernels oldest first, and newer
// kernels boot slower under TCG, so the longest runs start first and the
// last one to finish is a short one.
func inParallel(n, par int, fn func(i int)) {
	var g errgroup.Group
	g.SetLimit(max(1, par))
	for i := n - 1; i >= 0; i-- {
		// Go waits for a free slot, so runs start in this order.
		g.Go(func() error {
			fn(i)
			return nil
		})
	}
	g.Wait()
}

// prefixWriter writes whole lines, each with a prefix, under a shared lock.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    bytes.Buffer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf.Write(b)
	for {
		i := bytes.IndexByte(p.buf.Bytes(), '\n')
		if i < 0 {
			return len(b), nil
		}
		line := p.buf.Next(i + 1)
		p.mu.Lock()
		_, err := fmt.Fprintf(p.w, "%s%s", p.prefix, line)
		p.mu.Unlock()
		if err != nil {
			return len(b), err
		}
	}
}

// Flush writes a last line without a newline.
func (p *prefixWriter) Flush() {
	if p.buf.Len() > 0 {
		p.mu.Lock()
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf.Bytes())
		p.mu.Unlock()
		p.buf.Reset()
	}
}

// kernelRun is how a command ended on one kernel.
type kernelRun struct {
	exit int
	// tests are go test's results, read from its events; counted says
	// whether there were events to read (the command was go test).
	tests   []testCase
	counted bool
}

// runOnKernel runs the command against one kernel. 'go test' gets -exec
// pointing back at bpflab, and -json; any other command is run in the
// guest itself.
func runOnKernel(ctx context.Context, vf *vmFlags, t target, cmdline []string, report string, stdout, stderr io.Writer) (kernelRun, error) {
	if isGoTest(cmdline) {
		self, err := os.Executable()
		if err != nil {
			return kernelRun{}, err
		}
		argv, asked, err := goTestCommand(cmdline, execCommand(self, vf, t, report))
		if err != nil {
			return kernelRun{}, err
		}
		events := &testEvents{raw: asked, stdout: stdout, stderr: stderr}
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = events, stderr
		err = cmd.Run()
		if ferr := events.Flush(); err == nil {
			err = ferr
		}
		kr := kernelRun{tests: events.cases, counted: true}
		if ee, ok := err.(*exec.ExitError); ok {
			kr.exit = ee.ExitCode()
			if !asked && printsFail(cmdline[2:]) {
				fmt.Fprintln(stdout, "FAIL")
			}
			return kr, nil
		}
		return kr, err
	}
	log := newLogger(stderr, vf.verbose)
	o, err := execOne(ctx, vf, t, cmdline, stdout, stderr, log)
	if werr := appendReport(report, o); werr != nil {
		log.Warn("writing the report", "error", werr)
	}
	if o.Exit != 0 {
		return kernelRun{exit: o.Exit}, nil
	}
	return kernelRun{}, err
}

// execCommand is the 'bpflab exec' command that 'bpflab run' has go test
// run each test binary with, on kernel t with every option of vf, and a
// report of each run appended to report.
func execCommand(self string, vf *vmFlags, t target, report string) []string {
	ev := *vf
	ev.kernel = t.path
	if t.host {
		ev.kernel = "host"
	}
	// go test runs the exec in the package's directory.
	for _, p := range []*string{&ev.lock, &ev.cache} {
		if *p != "" {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
	argv := append([]string{self, "exec"}, ev.flagArgs(true)...)
	return append(argv, "--report", report)
}

func printSummary(w io.Writer, rs []kernelResult) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tRESULT\tPASS\tFAIL\tSKIP\tTIME")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.1fs\n", r.Kernel, r.Result, r.Pass, r.Fail, r.Skip, r.Seconds)
	}
	tw.Flush()
}
