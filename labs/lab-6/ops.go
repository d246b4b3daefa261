package lab6

import (
	"fmt"
	"unsafe"

	"github.com/bpflab/bpflab/harness"
	"golang.org/x/sys/unix"
)

// OpenArgs are one open a trigger makes.
type OpenArgs struct {
	// Kind names the case (see cases); the report describes it.
	Kind string `json:"kind"`
	// Path is opened relative to Dir when Dir is set (openat with a
	// descriptor of Dir), in Cwd when Cwd is set.
	Path string `json:"path"`
	Dir  string `json:"dir,omitempty"`
	Cwd  string `json:"cwd,omitempty"`
	// Reopen opens Path with O_PATH first (which checks no permission and
	// runs no file_open hook), then opens /proc/self/fd/N of that.
	Reopen bool `json:"reopen,omitempty"`
	Flags  int  `json:"flags"`
}

// opOpen is the trigger operation of this lab. Its helper opens are
// O_PATH, which the file_open hook never sees, so the only open a program
// can judge is the one the case is about. Ret is 1 when the open
// succeeded and a byte (or a directory entry) could be read.
var opOpen = harness.RegisterOp("lab6.open", func(a OpenArgs) (harness.Result, error) {
	dirfd, done, err := harness.At(a.Dir, a.Cwd)
	defer done()
	if err != nil {
		return harness.Result{}, err
	}
	path := a.Path
	if a.Reopen {
		fd, err := unix.Openat(dirfd, a.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return harness.Result{}, err
		}
		defer unix.Close(fd)
		path, dirfd = fmt.Sprintf("/proc/self/fd/%d", fd), unix.AT_FDCWD
	}
	p := harness.CPath(path)
	r1, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(a.Flags|unix.O_CLOEXEC), 0, 0, 0)
	if e != 0 {
		return harness.Result{Errno: e}, nil
	}
	fd := int(r1)
	defer unix.Close(fd)
	var b [1]byte
	if a.Flags&unix.O_DIRECTORY != 0 {
		var buf [256]byte
		if _, err := unix.Getdents(fd, buf[:]); err == nil {
			return harness.Result{Ret: 1}, nil
		}
		return harness.Result{}, nil
	}
	if a.Flags&(unix.O_WRONLY|unix.O_RDWR) != 0 {
		return harness.Result{Ret: 1}, nil // opened for writing: nothing is written
	}
	if n, err := unix.Read(fd, b[:]); err == nil && n == 1 {
		return harness.Result{Ret: 1}, nil
	}
	return harness.Result{}, nil
})
