package main

import (
	"context"
	"errors"
	"io"
	"os/exec"
)

// runOnHost runs argv on this machine's own kernel (--kernel host), with
// its output to stdout and stderr, and fills in o's exit code. A non-nil
// error carries the exit code.
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
	err = payloadf("running %s: %w", argv[0], err)
	o.Exit = failureCode(err)
	return *o, err
}
