package lab5

import (
	"unsafe"

	"github.com/bpflab/bpflab/harness"
	"golang.org/x/sys/unix"
)

// CountArgs are one call of this lab's trigger operation: Opens openat(2)
// calls of Path (none: a NULL name), then read(2) calls with each of Sizes
// as the byte count, Repeat times over.
type CountArgs struct {
	Opens  int      `json:"opens,omitempty"`
	Path   string   `json:"path,omitempty"`
	Sizes  []uint64 `json:"sizes,omitempty"`
	Repeat int      `json:"repeat,omitempty"`
}

// reads is how many read(2) calls a call makes.
func (a CountArgs) reads() int { return len(a.Sizes) * max(a.Repeat, 1) }

// opCount is the trigger operation of this lab. Its reads go to a
// descriptor that is not open, so they fail at once whatever their byte
// count (the count is what the lab measures, not the bytes read), and its
// opens of a file that exists are closed at once.
var opCount = harness.RegisterOp("lab5.count", func(a CountArgs) (harness.Result, error) {
	// No path: openat gets a NULL name and fails at once with EFAULT,
	// after the hook at its entry has run: the cheapest call to count.
	var path *byte
	if a.Path != "" {
		path = harness.CPath(a.Path)
	}
	atFDCWD := unix.AT_FDCWD
	for i := 0; i < a.Opens; i++ {
		fd, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(path)), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
		if e == 0 {
			unix.Close(int(fd))
		}
	}
	var buf [1]byte
	for r := 0; r < max(a.Repeat, 1); r++ {
		for _, n := range a.Sizes {
			unix.Syscall(unix.SYS_READ, ^uintptr(0), uintptr(unsafe.Pointer(&buf[0])), uintptr(n))
		}
	}
	return harness.Result{Ret: int64(a.Opens + a.reads())}, nil
})
