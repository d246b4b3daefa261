package lab2

import (
	"syscall"
	"unsafe"

	"github.com/bpflab/bpflab/harness"
	"golang.org/x/sys/unix"
)

// FileArgs are the arguments of one file operation a trigger makes.
type FileArgs struct {
	// Call is unlink, unlinkat, rmdir, creat, rename, mkdir, link or open.
	Call string `json:"call"`
	// Dir, if set, is opened first and its descriptor passed as dirfd
	// (unlinkat); Cwd, if set, is the working directory during the call.
	Dir string `json:"dir,omitempty"`
	Cwd string `json:"cwd,omitempty"`
	// Path is the name passed; NewPath the second one (rename, link).
	Path    string `json:"path"`
	NewPath string `json:"newpath,omitempty"`
	// Flags of unlinkat (AT_REMOVEDIR).
	Flags int `json:"flags,omitempty"`
	// Nobody makes the call with effective uid 65534 (on this thread only).
	Nobody bool `json:"nobody,omitempty"`
	// Want is the errno the scenario planned for the call (0: it deletes);
	// it chooses the check that judges the return event.
	Want syscall.Errno `json:"want,omitempty"`
}

const nobody = 65534

// opFile is the trigger operation of this lab.
var opFile = harness.RegisterOp("lab2.file", func(a FileArgs) (harness.Result, error) {
	dirfd, done, err := harness.At(a.Dir, a.Cwd)
	defer done()
	if err != nil {
		return harness.Result{}, err
	}
	if a.Nobody {
		// setresuid(2) itself changes only the calling thread; the libc
		// and Go wrappers change every thread, which is not wanted here.
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), nobody, ^uintptr(0)); e != 0 {
			return harness.Result{}, e
		}
		defer unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 0, ^uintptr(0))
	}
	p := harness.CPath(a.Path)
	var r1 uintptr
	var e syscall.Errno
	switch a.Call {
	case "unlink":
		r1, _, e = unix.Syscall(unix.SYS_UNLINK, uintptr(unsafe.Pointer(p)), 0, 0)
	case "unlinkat":
		r1, _, e = unix.Syscall(unix.SYS_UNLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(a.Flags))
	case "rmdir":
		r1, _, e = unix.Syscall(unix.SYS_RMDIR, uintptr(unsafe.Pointer(p)), 0, 0)
	case "mkdir":
		r1, _, e = unix.Syscall(unix.SYS_MKDIRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), 0o755)
	case "creat", "open":
		flags := unix.O_RDONLY | unix.O_CLOEXEC
		if a.Call == "creat" {
			flags = unix.O_WRONLY | unix.O_CREAT | unix.O_CLOEXEC
		}
		r1, _, e = unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(flags), 0o644, 0, 0)
		if e == 0 {
			unix.Close(int(r1))
		}
	case "rename", "link":
		np := harness.CPath(a.NewPath)
		nr := unix.SYS_RENAMEAT
		if a.Call == "link" {
			nr = unix.SYS_LINKAT
		}
		r1, _, e = unix.Syscall6(uintptr(nr), uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(dirfd), uintptr(unsafe.Pointer(np)), 0, 0)
	default:
		return harness.Result{}, syscall.EINVAL
	}
	if e != 0 {
		return harness.Result{Errno: e}, nil
	}
	return harness.Result{Ret: int64(r1)}, nil
})
