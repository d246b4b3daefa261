package lab1

import (
	"unsafe"

	"github.com/bpflab/bpflab/harness"
	"golang.org/x/sys/unix"
)

// OpenArgs are the arguments of one openat(2) a trigger makes.
type OpenArgs struct {
	// Dir, if set, is opened first and its descriptor passed as dfd;
	// BadDfd passes a number that is no open descriptor. Otherwise dfd is
	// AT_FDCWD.
	Dir    string `json:"dir,omitempty"`
	BadDfd bool   `json:"baddfd,omitempty"`
	// Cwd, if set, is the working directory during the call.
	Cwd string `json:"cwd,omitempty"`
	// Path is the filename argument; Tail are bytes in the same buffer
	// after its terminating NUL, which the kernel does not read.
	Path string `json:"path"`
	Tail string `json:"tail,omitempty"`
	// Flags and Mode are openat's.
	Flags int    `json:"flags"`
	Mode  uint32 `json:"mode,omitempty"`
	// Read reads a byte from the file once it is open.
	Read bool `json:"read,omitempty"`
}

const badDfd = 977

// opOpenat is the trigger operation of this lab. Its helper calls (the
// directory it opens for dfd, the working directory it changes) use
// open(2) and chdir(2), never openat(2), so the only openat the program
// sees from it is the one the case is about.
var opOpenat = harness.RegisterOp("lab1.openat", func(a OpenArgs) (harness.Result, error) {
	dfd, done, err := harness.At(a.Dir, a.Cwd)
	defer done()
	if err != nil {
		return harness.Result{}, err
	}
	if a.BadDfd {
		dfd = badDfd
	}
	// Written here, so its page is present when the program reads it.
	buf := make([]byte, len(a.Path)+1+len(a.Tail)+1)
	copy(buf, a.Path)
	copy(buf[len(a.Path)+1:], a.Tail)
	r1, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(dfd), uintptr(unsafe.Pointer(&buf[0])), uintptr(a.Flags), uintptr(a.Mode), 0, 0)
	if e != 0 {
		return harness.Result{Errno: e}, nil
	}
	fd := int(r1)
	res := harness.Result{Ret: int64(fd)}
	if a.Read {
		var b [1]byte
		if n, _ := unix.Read(fd, b[:]); n == 1 {
			res.Note = "read-ok"
		}
	}
	unix.Close(fd)
	return res, nil
})
