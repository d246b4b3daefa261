package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bpflab/bpflab/vmtest"
)

// kernelResult is one row of the summary 'bpflab run' ends with.
type kernelResult struct {
	Kernel  string  `json:"kernel"`
	Result  string  `json:"result"`
	Exit    int     `json:"exit"`
	Pass    int     `json:"pass"`
	Fail    int     `json:"fail"`
	Skip    int     `json:"skip"`
	Seconds float64 `json:"seconds"`
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var vf vmFlags
	vf.register(fs, "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cmdline := fs.Args()
	if len(cmdline) == 0 {
		return vmtest.Errorf(vmtest.ClassUsage, "run needs a command: bpflab run [flags] -- go test ./...")
	}
	log := newLogger(stderr, vf.verbose)
	store, err := vf.open(log)
	if err != nil {
		return err
	}
	ts, err := resolveTargets(store, vf.kernel)
	if err != nil {
		return err
	}
	for i := range ts {
		if err := fetchTarget(ctx, store, &ts[i]); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "bpflab-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var results []kernelResult
	for i, t := range ts {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintf(stderr, "=== kernel %s\n", t.name)
		report := filepath.Join(tmp, fmt.Sprintf("report-%d.jsonl", i))
		start := time.Now()
		exit, err := runOnKernel(ctx, &vf, t, cmdline, report, stdout, stderr)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r := kernelResult{Kernel: t.name, Exit: exit, Seconds: time.Since(start).Seconds()}
		outs, _ := readReports(report)
		class := ""
		for _, o := range outs {
			r.Pass += o.Pass
			r.Fail += o.Fail
			r.Skip += o.Skip
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
		results = append(results, r)
	}
	printSummary(stdout, results)
	for _, r := range results {
		if r.Exit != 0 {
			return exitError{r.Exit}
		}
	}
	return nil
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
