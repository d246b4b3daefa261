package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/bpflab/bpflab/vmtest"
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

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var vf vmFlags
	vf.register(fs, "")
	parallel := fs.Int("parallel", 0, "kernels run at once (default: fits the cores and free memory)")
	jsonOut := fs.String("json", "", "write the summary as JSON to `FILE`")
	junitOut := fs.String("junit", "", "write the results as JUnit XML to `FILE`")
	if err := vf.parse(fs, args, stdout); err != nil {
		return err
	}
	if err := checkOutput("--json", *jsonOut); err != nil {
		return err
	}
	if err := checkOutput("--junit", *junitOut); err != nil {
		return err
	}
	cmdline := fs.Args()
	if len(cmdline) == 0 {
		return vmtest.Errorf(vmtest.ClassUsage, "run needs a command: bpflab run [flags] -- go test ./...")
	}
	if *parallel <= 0 {
		*parallel = defaultParallel(vf.memory)
	}
	log := newLogger(stderr, vf.verbose)
	store, ts, err := vf.targets(log)
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
	inParallel(len(ts), *parallel, func(i int) {
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
		exit, err := runOnKernel(ctx, &vf, t, cmdline, report, kout, kerr)
		results[i] = summarise(t, exit, err, report, time.Since(start), kerr)
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	printSummary(stdout, results)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if *junitOut != "" {
		if err := writeJUnit(*junitOut, results); err != nil {
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

func summarise(t target, exit int, err error, report string, took time.Duration, stderr io.Writer) kernelResult {
	r := kernelResult{Kernel: t.name, Exit: exit, Seconds: took.Seconds()}
	outs, _ := readReports(report)
	class := ""
	for _, o := range outs {
		r.Pass += o.Pass
		r.Fail += o.Fail
		r.Skip += o.Skip
		r.Tests = append(r.Tests, o.Tests...)
		r.program = o.Program
		if o.Class != "" && class == "" {
			class = o.Class
		}
	}
	switch {
	case err != nil && exit == 0:
		r.Result, r.Exit = "error", vmtest.ClassOf(err).ExitCode()
		fmt.Fprintf(stderr, "bpflab: kernel %s: %v\n", t.name, err)
	case class != "":
		r.Result = class
	case exit == 0:
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
	sem := make(chan struct{}, max(1, par))
	var wg sync.WaitGroup
	for i := n - 1; i >= 0; i-- {
		sem <- struct{}{} // taken here, so runs start in this order
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
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

// runOnKernel runs the command against one kernel. 'go test' gets -exec
// pointing back at bpflab; any other command is run in the guest itself.
func runOnKernel(ctx context.Context, vf *vmFlags, t target, cmdline []string, report string, stdout, stderr io.Writer) (exit int, err error) {
	if len(cmdline) >= 2 && filepath.Base(cmdline[0]) == "go" && cmdline[1] == "test" {
		self, err := os.Executable()
		if err != nil {
			return 0, err
		}
		kernel := t.path
		if t.host {
			kernel = "host"
		}
		execArgs := []string{self, "exec", "--kernel", kernel, "--accel", vf.accel,
			"--memory", fmt.Sprint(vf.memory), "--cpus", fmt.Sprint(vf.cpus),
			"--boot-timeout", vf.bootTimeout.String(), "--report", report}
		if vf.runTimeout != 0 {
			execArgs = append(execArgs, "--run-timeout", vf.runTimeout.String())
		}
		if vf.console {
			execArgs = append(execArgs, "--console")
		}
		for _, e := range vf.env {
			execArgs = append(execArgs, "--env", e)
		}
		argv := []string{cmdline[0], "test", "-exec", vmtest.ShellQuote(execArgs)}
		rest := cmdline[2:]
		if !hasVerbose(rest) {
			// Counting passed and skipped tests needs their result lines.
			argv = append(argv, "-v")
		}
		argv = append(argv, rest...)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		err = cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), nil
		}
		return 0, err
	}
	log := newLogger(stderr, vf.verbose)
	o, err := execOne(ctx, vf, t, cmdline, stdout, stderr, log)
	if werr := appendReport(report, o); werr != nil {
		log.Warn("writing the report", "error", werr)
	}
	if o.Exit != 0 {
		return o.Exit, nil
	}
	return 0, err
}

func hasVerbose(args []string) bool {
	for _, a := range args {
		switch strings.TrimLeft(a, "-") {
		case "v", "v=true", "json":
			return true
		}
	}
	return false
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

// JUnit XML, the subset CI systems read: a suite per kernel, a case per test.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string    `xml:"name,attr"`
	ClassName string    `xml:"classname,attr"`
	Time      string    `xml:"time,attr"`
	Failure   *junitMsg `xml:"failure,omitempty"`
	Error     *junitMsg `xml:"error,omitempty"`
	Skipped   *junitMsg `xml:"skipped,omitempty"`
}

type junitMsg struct {
	Message string `xml:"message,attr"`
}

func writeJUnit(path string, rs []kernelResult) error {
	var doc junitSuites
	for _, r := range rs {
		s := junitSuite{Name: "kernel " + r.Kernel, Time: fmt.Sprintf("%.3f", r.Seconds)}
		for _, tc := range r.Tests {
			c := junitCase{Name: tc.Name, ClassName: r.Kernel, Time: fmt.Sprintf("%.3f", tc.Seconds)}
			switch tc.Status {
			case "FAIL":
				c.Failure = &junitMsg{Message: "failed on kernel " + r.Kernel}
				s.Failures++
			case "SKIP":
				c.Skipped = &junitMsg{Message: "skipped"}
				s.Skipped++
			}
			s.Cases = append(s.Cases, c)
		}
		// A run that ended in a failure class (boot hang, panic, ...) is an
		// error of the suite, whatever its tests said.
		if r.Result != "ok" && r.Result != "FAIL" {
			s.Cases = append(s.Cases, junitCase{Name: "bpflab " + r.Result, ClassName: r.Kernel,
				Error: &junitMsg{Message: fmt.Sprintf("%s (exit %d)", r.Result, r.Exit)}})
			s.Errors++
		}
		s.Tests = len(s.Cases)
		doc.Suites = append(doc.Suites, s)
	}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}
