package vmtest

import (
	"errors"
	"fmt"
	"strings"
)

// Class says why a run failed without a payload exit status. The bpflab
// command turns each class into an exit code of its own.
type Class int

const (
	// ClassUsage is a mistake in the request: a flag, an alias, a path.
	ClassUsage Class = iota + 1
	// ClassKernel is a kernel image that is missing or not a kernel.
	ClassKernel
	// ClassBootHang is a guest whose init did not report within the boot deadline.
	ClassBootHang
	// ClassPanic is a kernel panic seen on the console.
	ClassPanic
	// ClassTimeout is a payload still running at the run deadline.
	ClassTimeout
	// ClassOOM is a payload killed by the guest's out-of-memory killer.
	ClassOOM
	// ClassInfra is a problem on the host: no qemu, no disk space, no apt.
	ClassInfra
	// ClassPayload is a payload that could not be started (not an executable).
	ClassPayload
)

func (c Class) String() string {
	switch c {
	case ClassUsage:
		return "usage"
	case ClassKernel:
		return "kernel"
	case ClassBootHang:
		return "boot-hang"
	case ClassPanic:
		return "panic"
	case ClassTimeout:
		return "timeout"
	case ClassOOM:
		return "oom"
	case ClassInfra:
		return "infra"
	case ClassPayload:
		return "payload"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Error is a failed run. Msg is one line that names the fix; Console holds
// the last lines of the kernel console where they help.
type Error struct {
	Class   Class
	Msg     string
	Console []string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil && !strings.Contains(e.Msg, e.Err.Error()) {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of class c.
func Errorf(c Class, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Class: c, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// ClassOf returns the class of err, or ClassInfra if it has none.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassInfra
}
