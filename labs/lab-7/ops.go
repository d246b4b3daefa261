package lab7

import (
	"unsafe"

	"github.com/bpflab/bpflab/harness"
	"golang.org/x/sys/unix"
)

// OpenArgs are the arguments of one openat(2) a trigger makes: dfd is a
// descriptor of Dir when set (which an absolute Path ignores), else
// AT_FDCWD.
type OpenArgs struct {
	Path  string `json:"path"`
	Dir   string `json:"dir,omitempty"`
	Flags int    `json:"flags"`
}

// opOpen is the lab's trigger operation: one openat, and nothing else
// that opens a file (harness.At opens Dir with open(2)).
var opOpen = harness.RegisterOp("lab7.openat", func(a OpenArgs) (harness.Result, error) {
	dfd, done, err := harness.At(a.Dir, "")
	defer done()
	if err != nil {
		return harness.Result{}, err
	}
	buf := append([]byte(a.Path), 0)
	r1, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(dfd), uintptr(unsafe.Pointer(&buf[0])), uintptr(a.Flags), 0, 0, 0)
	if e != 0 {
		return harness.Result{Errno: e}, nil
	}
	unix.Close(int(r1))
	return harness.Result{Ret: int64(r1)}, nil
})
