package main

import (
	"errors"
	"fmt"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/vmtest"
	"github.com/bpflab/bpflab/vmtest/kernels"
)

// The command's failure classes and their exit codes (README, "Exit
// codes"). The libraries say what went wrong with their own errors; this
// file alone turns them into a class and a code.
const (
	classUsage    = "usage"
	classKernel   = "kernel"
	classInfra    = "infra"
	classPayload  = "payload"
	exitUsageCode = 64
)

var exitCodes = map[string]int{
	classUsage:                    exitUsageCode,
	classKernel:                   65,
	vmtest.ClassBootHang.String(): 66,
	vmtest.ClassPanic.String():    67,
	vmtest.ClassTimeout.String():  68,
	vmtest.ClassOOM.String():      69,
	classInfra:                    70,
	classPayload:                  71,
}

// cmdError is a failure the command itself detects, with its class.
type cmdError struct {
	class string
	err   error
}

func (e *cmdError) Error() string { return e.err.Error() }
func (e *cmdError) Unwrap() error { return e.err }

// usagef is a mistake in the command line: a flag, an alias, a path.
func usagef(format string, args ...any) error {
	return &cmdError{classUsage, fmt.Errorf(format, args...)}
}

// kernelf is a kernel image that is missing or not served.
func kernelf(format string, args ...any) error {
	return &cmdError{classKernel, fmt.Errorf(format, args...)}
}

// payloadf is a program that cannot be started.
func payloadf(format string, args ...any) error {
	return &cmdError{classPayload, fmt.Errorf(format, args...)}
}

// failureClass names why err failed the command; errors nobody classified
// are the host's ("infra").
func failureClass(err error) string {
	var ce *cmdError
	var se *harness.SourceError
	var ve *vmtest.Error
	switch {
	case errors.As(err, &ce):
		return ce.class
	case errors.As(err, &se), errors.Is(err, kernels.ErrUnknownKernel):
		return classUsage
	case errors.Is(err, kernels.ErrNotServed), errors.Is(err, kernels.ErrNoImage):
		return classKernel
	case errors.As(err, &ve):
		return ve.Class.String()
	}
	return classInfra
}

// failureCode is the exit code of a command that failed with err.
func failureCode(err error) int {
	if c, ok := exitCodes[failureClass(err)]; ok {
		return c
	}
	return exitCodes[classInfra]
}
