package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TriggerCommand is the hidden first argument that turns any binary
// importing this package (bpflab, a lab's test binary) into a trigger.
const TriggerCommand = "__bpflab_trigger"

func init() {
	if len(os.Args) > 1 && os.Args[1] == TriggerCommand {
		// In init, the main goroutine is on the process's first thread, so
		// every system call of the trigger comes from a thread whose id is
		// the pid: a program that reports the thread id instead of the
		// process id is not told apart by luck.
		runtime.LockOSThread()
		os.Exit(triggerMain(os.Args[2:]))
	}
}

// Action is one system call a trigger makes.
type Action struct {
	// Op is open, unlink, rmdir, mkdir, create or rename.
	Op string `json:"op"`
	// Path is the path argument, as passed to the system call.
	Path string `json:"path"`
	// Dir, if set, is opened first and used as the dirfd: the call is
	// openat(dirfd, Path) or unlinkat(dirfd, Path).
	Dir string `json:"dir,omitempty"`
	// Chdir changes the working directory before the call.
	Chdir string `json:"chdir,omitempty"`
	// NewPath is the target of a rename.
	NewPath string `json:"newpath,omitempty"`
	// Read reads one byte after a successful open and prints "read-ok".
	Read bool `json:"read,omitempty"`
}

// Outcome is what one action returned: 0 or the errno.
type Outcome struct {
	Errno int `json:"errno"`
}

// TriggerResult is how a trigger process ended.
type TriggerResult struct {
	Pid      int
	Comm     string
	Signal   syscall.Signal // the signal that killed it, or 0
	ExitCode int
	// Outcomes holds one entry per action that ran.
	Outcomes []Outcome
	// ReadOK is true if a Read action got its byte.
	ReadOK bool
	Stderr string
}

// RunTrigger runs actions in a new process named comm (at most 15 bytes)
// and waits for it.
func RunTrigger(ctx context.Context, comm string, actions ...Action) (*TriggerResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(actions)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, TriggerCommand, comm, string(raw))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the trigger: %w", err)
	}
	res := &TriggerResult{Pid: cmd.Process.Pid, Comm: comm}
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal()
		} else {
			res.ExitCode = ee.ExitCode()
		}
	default:
		return nil, err
	}
	res.Stderr = stderr.String()
	for _, line := range strings.Split(stdout.String(), "\n") {
		switch {
		case line == "read-ok":
			res.ReadOK = true
		case strings.HasPrefix(line, "{"):
			var o Outcome
			if json.Unmarshal([]byte(line), &o) == nil {
				res.Outcomes = append(res.Outcomes, o)
			}
		}
	}
	if res.Signal == 0 && res.ExitCode != 0 {
		return res, fmt.Errorf("trigger failed (exit %d): %s", res.ExitCode, strings.TrimSpace(res.Stderr))
	}
	return res, nil
}

func triggerMain(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "trigger: want COMM ACTIONS")
		return 2
	}
	if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&append([]byte(args[0]), 0)[0])), 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "trigger: prctl:", err)
		return 2
	}
	var actions []Action
	if err := json.Unmarshal([]byte(args[1]), &actions); err != nil {
		fmt.Fprintln(os.Stderr, "trigger:", err)
		return 2
	}
	for _, a := range actions {
		errno, err := runAction(a)
		if err != nil {
			fmt.Fprintln(os.Stderr, "trigger:", err)
			return 2
		}
		fmt.Printf("{\"errno\":%d}\n", errno)
	}
	return 0
}

// cPath returns a NUL-terminated copy of p. Writing the copy faults its
// page in, so the page is present when a BPF program at the syscall's entry
// reads it: such a program cannot fault pages in, and would read an empty
// path from a page that is not there yet.
func cPath(p string) *byte {
	b := make([]byte, len(p)+1)
	copy(b, p)
	return &b[0]
}

func runAction(a Action) (errno int, err error) {
	if a.Chdir != "" {
		if err := os.Chdir(a.Chdir); err != nil {
			return 0, err
		}
	}
	dirfd := unix.AT_FDCWD
	if a.Dir != "" {
		fd, err := unix.Open(a.Dir, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			return 0, fmt.Errorf("opening dirfd %s: %w", a.Dir, err)
		}
		defer unix.Close(fd)
		dirfd = fd
	}
	p := cPath(a.Path)
	var r1 uintptr
	var e syscall.Errno
	switch a.Op {
	case "open":
		r1, _, e = unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
		if e == 0 && a.Read {
			var buf [1]byte
			if n, _ := unix.Read(int(r1), buf[:]); n == 1 {
				fmt.Println("read-ok")
			}
		}
		if e == 0 {
			unix.Close(int(r1))
		}
	case "create":
		r1, _, e = unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644, 0, 0)
		if e == 0 {
			unix.Close(int(r1))
		}
	case "unlink":
		if a.Dir != "" {
			_, _, e = unix.Syscall(unix.SYS_UNLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), 0)
		} else {
			_, _, e = unix.Syscall(unix.SYS_UNLINK, uintptr(unsafe.Pointer(p)), 0, 0)
		}
	case "rmdir":
		_, _, e = unix.Syscall(unix.SYS_UNLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), unix.AT_REMOVEDIR)
	case "mkdir":
		_, _, e = unix.Syscall(unix.SYS_MKDIRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), 0o755)
	case "rename":
		np := cPath(a.NewPath)
		_, _, e = unix.Syscall6(unix.SYS_RENAMEAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(dirfd), uintptr(unsafe.Pointer(np)), 0, 0)
	default:
		return 0, fmt.Errorf("unknown action %q", a.Op)
	}
	return int(e), nil
}
