package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"al.essio.dev/pkg/shellescape"

	"github.com/bpflab/bpflab/vmtest"
)

// reportFailure prints the one-line reason, the console tail where it
// explains the failure, and repro, a command that reproduces the run.
func reportFailure(w io.Writer, err error, t target, repro []string) {
	var verr *vmtest.Error
	errors.As(err, &verr)
	fmt.Fprintf(w, "bpflab: kernel %s: %v [%s, exit %d]\n", t.name, err, failureClass(err), failureCode(err))
	if verr != nil && len(verr.Console) > 0 {
		fmt.Fprintln(w, "bpflab: last lines of the kernel console:")
		for _, l := range verr.Console {
			fmt.Fprintf(w, "  | %s\n", l)
		}
	}
	fmt.Fprintf(w, "bpflab: reproduce with: %s\n", shellQuote(repro))
}

// reproCommand is a bpflab command line that boots the same guest and runs
// the same program, with the console shown.
func reproCommand(vf *vmFlags, t target, argv []string, res *vmtest.Result) []string {
	self, _ := os.Executable()
	rv := *vf
	rv.kernel, rv.console = t.path, true
	if res != nil && res.Accel != "" {
		rv.accel = res.Accel
	}
	repro := append([]string{self, "exec"}, rv.flagArgs(false)...)
	repro = append(repro, "--")
	return append(repro, argv...)
}

// shellQuote writes argv as a command line a POSIX shell runs unchanged.
func shellQuote(argv []string) string { return shellescape.QuoteCommand(argv) }
