// Command bpflab boots stock Linux kernels in QEMU, runs programs and Go
// tests inside them, and grades eBPF labs.
//
//	bpflab exec    [flags] PROGRAM [ARGS...]   run one program in a guest
//	bpflab run     [flags] -- COMMAND...       run tests on one or more kernels
//	bpflab kernels fetch|list|update           manage the kernel matrix
//
// Run 'bpflab help' for the flags of each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/vmtest"
	"github.com/hashicorp/go-hclog"
)

func main() {
	if vmtest.IsGuestInit() {
		vmtest.GuestInit()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	interrupted := ctx.Err() != nil
	stop()
	os.Exit(exitCode(err, interrupted))
}

// exitError carries an exit code with nothing more to print: a payload's
// own failure, already visible in its output.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func exitCode(err error, interrupted bool) int {
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if interrupted {
		fmt.Fprintln(os.Stderr, "bpflab: interrupted")
		return 130
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(os.Stderr, "bpflab: %v\n", err)
	return vmtest.ClassOf(err).ExitCode()
}

const usage = `bpflab: a lab harness for eBPF that boots stock kernels in QEMU.

Usage:
  bpflab exec [flags] PROGRAM [ARGS...]    run PROGRAM in a guest; its exit code is bpflab's
  bpflab run [flags] -- COMMAND...         run COMMAND's tests on kernels, then a summary
  bpflab grade LAB [--src FILE] [--solution] grade a lab's BPF C file in a VM (labs: lab-1)
  bpflab shell [flags] [-- COMMAND]        a busybox shell in a guest (bpftool, lab objects, tracefs)
  bpflab kernels fetch [ALIAS|all]         download kernels of the matrix into the cache
  bpflab kernels list                      show the matrix and what is cached
  bpflab kernels update [--lock FILE]      pin the newest build of every kernel

With go test:
  go test -exec 'bpflab exec --kernel 6.1' ./...

Exit codes: the program's own, or 64 usage, 65 kernel missing or corrupt,
66 boot hang, 67 kernel panic, 68 timeout, 69 guest out of memory,
70 infrastructure error (no qemu, no disk, no apt), 71 program not executable.
Run 'bpflab COMMAND -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return vmtest.Errorf(vmtest.ClassUsage, "no command given")
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
	case harness.GuestCommand:
		return cmdGuestGrade(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return vmtest.Errorf(vmtest.ClassUsage, "unknown command %q", args[0])
}

func newLogger(stderr io.Writer, verbose bool) hclog.Logger {
	level := hclog.Info
	if verbose {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:        "bpflab",
		Level:       level,
		Output:      stderr,
		DisableTime: true,
	})
}

// parseFlags parses fs, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if u, ok := commandUsage[fs.Name()]; ok {
				fmt.Fprintf(os.Stdout, "usage: bpflab %s\n\n", u)
			}
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			return err
		}
		return vmtest.Errorf(vmtest.ClassUsage, "%v (see 'bpflab %s -h')", err, fs.Name())
	}
	return nil
}

// commandUsage is each command's synopsis, printed by -h.
var commandUsage = map[string]string{
	"exec":  "exec [flags] PROGRAM [ARGS...]",
	"run":   "run [flags] -- COMMAND [ARGS...]",
	"grade": "grade LAB [flags]",
	"shell": "shell [flags] [-- COMMAND]",
}
