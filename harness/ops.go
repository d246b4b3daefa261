package harness

import (
	"math/rand/v2"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// At prepares where an operation's call is made: a descriptor of dir to
// pass as dirfd (AT_FDCWD when dir is ""), and cwd as the working
// directory (unchanged when cwd is ""). done undoes both. It opens with
// open(2) and O_PATH, never openat(2): a lab that hooks openat, or a
// program that judges opens, sees none of it.
func At(dir, cwd string) (dirfd int, done func(), err error) {
	dirfd = unix.AT_FDCWD
	var undo []func()
	done = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	if dir != "" {
		fd, err := openPath(dir)
		if err != nil {
			return 0, done, err
		}
		undo = append(undo, func() { unix.Close(fd) })
		dirfd = fd
	}
	if cwd != "" {
		back, err := openPath(".")
		if err != nil {
			done()
			return 0, func() {}, err
		}
		undo = append(undo, func() { unix.Close(back) })
		if err := unix.Chdir(cwd); err != nil {
			done()
			return 0, func() {}, err
		}
		undo = append(undo, func() { unix.Fchdir(back) })
	}
	return dirfd, done, nil
}

// openPath opens a directory with open(2), O_PATH.
func openPath(path string) (int, error) {
	p := CPath(path)
	r1, _, e := unix.Syscall(unix.SYS_OPEN, uintptr(unsafe.Pointer(p)), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if e != 0 {
		return -1, syscall.Errno(e)
	}
	return int(r1), nil
}

// Dealt is a call to deal to a scenario's processes, and which thread
// makes it: 0 the main thread, 1 another thread, -1 any.
type Dealt struct {
	Call   Call
	Thread int
}

// Deal hands the calls, in order, to the processes in turn, choosing the
// thread of each as its Thread says. Each kind of case that a lab deals
// twice, once with Thread 0 and once with Thread 1, is then made from a
// main thread and from another thread in every run.
func Deal(r *rand.Rand, procs []*Process, calls []Dealt) {
	for i, d := range calls {
		p := procs[i%len(procs)]
		c := d.Call
		switch d.Thread {
		case 0:
			c.Thread = 0
		case 1:
			c.Thread = 1 + r.IntN(max(p.Threads, 1))
		default:
			c.Thread = r.IntN(p.Threads + 1)
		}
		if c.Thread > p.Threads {
			c.Thread = p.Threads
		}
		p.Calls = append(p.Calls, c)
	}
}
