// Command bpflab boots stock Linux kernels in QEMU, runs programs and Go
// tests inside them, and grades eBPF labs.
//
//	bpflab exec    [flags] PROGRAM [ARGS...]   run one program in a guest
//	bpflab run     [flags] -- COMMAND...       run tests on one or more kernels
//	bpflab grade   LAB [flags]                 grade a lab's BPF C file in a guest
//	bpflab shell   [flags] [-- COMMAND]        a shell in a guest
//	bpflab kernels fetch|list|update           manage the kernel matrix
//
// Run 'bpflab help' for the labs, and 'bpflab help COMMAND' for a
// command's flags.

// The Go runtime reads the cgroup CPU limit at start and again every
// second. In a grading guest those reads are openat calls of bpflab's own
// processes, which run the student's program on sys_enter_openat; on
// kernels where that program runs preemptibly (7.x), one run preempted by
// another on the same CPU makes the kernel skip the second (a recursion
// miss), and a trigger's event is lost. bpflab's processes do not read it.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/vmtest"
	"github.com/hashicorp/go-hclog"
)

func main() {
	if vmtest.IsGuestInit() {
		vmtest.GuestInit()
	}
	if harness.IsTrigger() {
		harness.TriggerMain()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	interrupted := ctx.Err() != nil
	stop()
	os.Exit(exitCode(err, interrupted, os.Stderr))
}

// exitError carries an exit code with nothing more to print: a payload's
// own failure, already visible in its output.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// exitCode is the process's exit code for run's error; it prints the error
// to stderr when nothing has said it yet.
func exitCode(err error, interrupted bool, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if interrupted {
		fmt.Fprintln(stderr, "bpflab: interrupted")
		return 130
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "bpflab: %v\n", err)
	return failureCode(err)
}

// commands are the lines of 'bpflab help': a synopsis (after "bpflab ")
// and what the command does. A command's -h prints the synopses that start
// with its name.
var commands = []struct{ synopsis, what string }{
	{"exec [flags] PROGRAM [ARGS...]", "run PROGRAM in a guest; its exit code is bpflab's"},
	{"run [flags] -- COMMAND...", "run COMMAND's tests on kernels, then a summary"},
	{"grade LAB [flags]", "grade a BPF C file (--src FILE) for a lab, in a guest"},
	{"grade LAB --submissions DIR [--shard I/N] [--csv F] [--html F]", "grade a class: a file or directory per student"},
	{"report merge [--json F] [--csv F] [--html F] REPORT.json...", "one class report from the JSON of several runs (shards)"},
	{"labs [--markdown]", "the labs, their levels, and on which kernels each grades"},
	{"doctor [--boot]", "what this machine lacks for bpflab, each with its fix"},
	{"status", "your progress: each lab, where your file passed, its latest grade"},
	{"new-lab NAME [--title T]", "a new lab that builds, passes with its solution and fails with its starter"},
	{"shell [flags] [-- COMMAND]", "a busybox shell in a guest (bpftool, lab objects, tracefs)"},
	{"kernels fetch [flags] [ALIAS|all]", "download kernels of the matrix into the cache"},
	{"kernels list [flags]", "show the matrix and what is cached"},
	{"kernels update [--lock FILE]", "pin the newest build of every kernel"},
	{"cache [clean]", "what the cache holds (kernels, saved guests); clean removes the saved guests"},
	{"help [COMMAND]", "this text, or a command's flags"},
}

// writeUsage prints 'bpflab help': the commands, the labs this binary
// grades, and the exit codes.
func writeUsage(w io.Writer) {
	fmt.Fprint(w, "bpflab: a lab harness for eBPF that boots stock kernels in QEMU.\n\nUsage:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  bpflab %s\t%s\n", c.synopsis, c.what)
	}
	tw.Flush()
	fmt.Fprint(w, "\nLabs (bpflab grade LAB):\n")
	writeLabs(w)
	fmt.Fprint(w, `
With go test:
  go test -exec 'bpflab exec --kernel 6.1' ./...

Exit codes: the program's own, or 64 usage, 65 kernel missing or corrupt,
66 boot hang, 67 kernel panic, 68 timeout, 69 guest out of memory,
70 infrastructure error (no qemu, no disk, no apt), 71 program not executable.
Run 'bpflab COMMAND -h' for a command's flags.
`)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		writeUsage(stderr)
		return usagef("no command given")
	}
	switch args[0] {
	case "exec":
		return cmdExec(ctx, args[1:], stdout, stderr)
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "kernels":
		return cmdKernels(ctx, args[1:], stdout, stderr)
	case "grade":
		return cmdGrade(ctx, args[1:], stdout, stderr)
	case "shell":
		return cmdShell(ctx, args[1:], stdout, stderr)
	case "report":
		return cmdReport(args[1:], stdout)
	case "cache":
		return cmdCache(args[1:], stdout, stderr)
	case "labs":
		return cmdLabs(args[1:], stdout, stderr)
	case "doctor":
		return cmdDoctor(ctx, args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout)
	case "new-lab":
		return cmdNewLab(args[1:], stdout)
	case harness.GuestCommand:
		return cmdGuestGrade(ctx, args[1:])
	case harness.WorkerCommand:
		return cmdWorker(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" && !isHelpFlag(args[1]) {
			// bpflab help COMMAND is bpflab COMMAND -h.
			return run(ctx, []string{args[1], "-h"}, stdout, stderr)
		}
		writeUsage(stdout)
		return nil
	}
	writeUsage(stderr)
	return usagef("unknown command %q", args[0])
}

func isHelpFlag(a string) bool {
	return a == "-h" || a == "-help" || a == "--help" || a == "--h"
}

// newLogger returns the command's logger. Its lines read like the
// command's errors, "bpflab: what happened (key=value, ...)", warnings say
// so, and debug lines appear only with -v: one voice for everything bpflab
// prints. Libraries log only through a logger the command hands them.
func newLogger(stderr io.Writer, verbose bool) hclog.Logger {
	level := hclog.Info
	if verbose {
		level = hclog.Debug
	}
	l := hclog.NewInterceptLogger(&hclog.LoggerOptions{
		Name:   "bpflab",
		Level:  level,
		Output: io.Discard,
	})
	l.RegisterSink(&voice{w: stderr, level: level})
	return l
}

// voice is the sink that writes the command's log lines.
type voice struct {
	mu    sync.Mutex
	w     io.Writer
	level hclog.Level
}

func (v *voice) Accept(_ string, level hclog.Level, msg string, args ...any) {
	if level < v.level {
		return
	}
	var b strings.Builder
	b.WriteString("bpflab: ")
	switch {
	case level >= hclog.Error:
		b.WriteString("error: ")
	case level == hclog.Warn:
		b.WriteString("warning: ")
	case level <= hclog.Debug:
		b.WriteString("debug: ")
	}
	b.WriteString(msg)
	for i := 0; i+1 < len(args); i += 2 {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%v=%v", args[i], args[i+1])
		if i+3 >= len(args) {
			b.WriteString(")")
		}
	}
	b.WriteString("\n")
	v.mu.Lock()
	defer v.mu.Unlock()
	io.WriteString(v.w, b.String())
}

// parseFlags parses fs, turning flag errors into usage errors. -h prints
// the command's help to help and returns flag.ErrHelp (exit 0).
func parseFlags(fs *flag.FlagSet, args []string, help io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(help, fs)
			return err
		}
		return usagef("%v (see 'bpflab %s -h')", err, fs.Name())
	}
	return nil
}

// printHelp prints a command's synopsis, its extra section if it has one
// (grade lists the labs), and its flags.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	var syn []string
	for _, c := range commands {
		if c.synopsis == fs.Name() || strings.HasPrefix(c.synopsis, fs.Name()+" ") {
			syn = append(syn, "bpflab "+c.synopsis)
		}
	}
	if len(syn) > 0 {
		fmt.Fprintf(w, "usage: %s\n\n", strings.Join(syn, "\n       "))
	}
	if extra, ok := helpSections[fs.Name()]; ok {
		extra(w)
		fmt.Fprintln(w)
	}
	if len(syn) > 0 {
		fmt.Fprintln(w, "flags:")
	}
	printFlags(w, fs)
}

// helpSections are what a command's -h prints between its synopsis and
// its flags.
var helpSections = map[string]func(io.Writer){
	"grade": func(w io.Writer) {
		fmt.Fprintln(w, "labs:")
		writeLabs(w)
	},
}

// hiddenFlag reports whether help leaves a flag out: the options'
// aliases (--verbose is -v).
func hiddenFlag(name string) bool {
	for _, o := range vmOptions() {
		if o.alias == name {
			return true
		}
	}
	return false
}

// printFlags prints fs's flags as flag.PrintDefaults does, without the
// hidden aliases.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		if hiddenFlag(f.Name) {
			return
		}
		shown.Var(f.Value, f.Name, f.Usage)
		// The built-in default, not the value the config file or the
		// command line has set so far.
		shown.Lookup(f.Name).DefValue = f.DefValue
	})
	shown.SetOutput(w)
	shown.PrintDefaults()
}
