package lab7

import (
	"unsafe"

	"github.com/bpflab/bpflab/harness"
	"golang.org/x/sys/unix"
)

// OpenArgs are the arguments of one openat(2) a trigger makes:
// openat(AT_FDCWD, Path, O_RDONLY).
type OpenArgs struct {
	Path string `json:"path"`
}

// opOpen is the lab's trigger operation: one openat, and nothing else
// that opens a file.
var opOpen = harness.RegisterOp("lab7.openat", func(a OpenArgs) (harness.Result, error) {
	buf := append([]byte(a.Path), 0)
	dfd := unix.AT_FDCWD
	r1, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(dfd), uintptr(unsafe.Pointer(&buf[0])), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		return harness.Result{Errno: e}, nil
	}
	unix.Close(int(r1))
	return harness.Result{Ret: int64(r1)}, nil
})
