package vmtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// hostViewDir is where the init mounts the host's root.
const hostViewDir = "/run/bpflab/host"

// hostViewConn is the host view's FUSE mount: the port its requests go
// out on and the /dev/fuse descriptor they come from.
type hostViewConn struct {
	port *os.File
	dev  *os.File
	// merged is closed when the merged root is ready (see mergeRoot),
	// with err saying whether it is.
	merged chan struct{}
	err    error
	// relaying is true once the relay's goroutines run; start, when
	// not nil, starts the ones a saved guest has waiting.
	relaying bool
	start    chan struct{}
	// buf is where the relay reads requests, made with the view: in a
	// saved guest, it is made before the save (a megabyte made after a
	// restore started a garbage collection that cost the run some 50 ms).
	buf []byte
	// init is the INIT request a saved guest's kernel sent, and the host
	// that saved it answered: the host serving a restored guest is handed
	// it first (see StartHostView).
	init []byte
}

// preparedView is the host view a warm guest set up before it was saved
// (see PrepareHostView), or nil.
var preparedView *hostViewConn

// PrepareHostView sets the whole host view up in a guest about to be
// saved: the FUSE mount, and the merged root over it (mergeRoot), while
// the host that saves the guest answers the one request this takes of it
// (INIT; the overlay's STATFS and xattr requests are answered here). No
// other node than the view's root is known to the kernel then, so the
// host that serves a restored guest, which knows only the root too, can
// answer it once it has been handed the same INIT. A restored run with
// the view then only starts the relay. The relay here is
// synchronous, in this goroutine, and ends with the mount: goroutines
// parked in a saved guest cost a run without the view some 30 ms of its
// payload's time (measured, not understood). A run without the view
// drops it (DropHostView). Failing here is not fatal: StartHostView sets
// the view up after the restore, and says why it cannot.
func (linuxGuest) PrepareHostView() bool {
	c, err := setUpView()
	if err != nil {
		return false
	}
	merged := make(chan error, 1)
	go func() { merged <- mergeRoot() }()
	err = c.relayUntil(merged)
	if cmdline, _ := os.ReadFile("/proc/cmdline"); err == nil && hasWord(string(cmdline), viewAfterRestoreCmdline) {
		err = errors.New("asked to make it after each restore")
	}
	if err != nil {
		// Half made, or knowing nodes a later host would not: undone,
		// and made again after the restore.
		_ = unix.Unmount(mergedDir, unix.MNT_DETACH)
		_ = unix.Unmount(hostViewDir, unix.MNT_DETACH)
		_ = unix.Unmount(guestRootDir, unix.MNT_DETACH)
		c.dev.Close()
		c.port.Close() // a virtio port has one opener at a time
		return false
	}
	c.merged = make(chan struct{})
	close(c.merged)
	// The relay's goroutines wait for the run on a channel, which costs
	// a restored run nothing, unlike a read (see above); starting them
	// after the restore took some 15 ms of it.
	c.start = make(chan struct{})
	go func() {
		<-c.start
		relayToHost(c.dev, c.port, c.buf)
	}()
	go func() {
		<-c.start
		relayToKernel(c.port, c.dev)
	}()
	preparedView = c
	return true
}

// viewAfterRestoreCmdline on the kernel command line makes a guest about
// to be saved undo its host view, which each restored run then makes
// again: what happens when the view cannot be kept (see PrepareHostView),
// for tests and for telling the two apart when debugging.
const viewAfterRestoreCmdline = "bpflab.hostview=after-restore"

// prepareWait bounds each wait for the saving host's answer.
const prepareWait = 10 * time.Second

// relayUntil relays the kernel's FUSE requests, one at a time, until done
// says how the mount that makes them ended; it returns that, or why the
// view cannot be kept as it is for a later host: a request other than
// INIT went to the host (the kernel would then know a node the later host
// does not), or the host did not answer.
func (c *hostViewConn) relayUntil(done <-chan error) error {
	fw := NewFrameWriter(c.port)
	buf := c.buf
	var forwarded []uint32
	for {
		select {
		case err := <-done:
			if err == nil && (len(forwarded) != 1 || forwarded[0] != fuseInit) {
				err = fmt.Errorf("the saved guest's view asked the host %v, want only INIT", forwarded)
			}
			return err
		default:
		}
		if !readable(c.dev, 5*time.Millisecond) {
			continue
		}
		req, err := nextRequest(c.dev, buf)
		if err != nil {
			return err
		}
		if req == nil {
			continue
		}
		op := binary.LittleEndian.Uint32(req[4:8])
		forwarded = append(forwarded, op)
		if op == fuseInit {
			c.init = bytes.Clone(req)
		}
		if err := fw.WriteFrame(FrameFuse, req); err != nil {
			return err
		}
		if !readable(c.port, prepareWait) {
			return fmt.Errorf("the host did not answer FUSE request %d within %v", op, prepareWait)
		}
		f, err := readFrame(c.port)
		if err != nil {
			return err
		}
		if _, err := c.dev.Write(f.Data); err != nil {
			return err
		}
	}
}

// fuseReadSize is the size of a read of /dev/fuse, which the kernel
// wants to hold the largest write (the host's MaxWrite) and its headers.
const fuseReadSize = 128<<10 + 4096

// readable waits up to d for f to have something to read.
func readable(f *os.File, d time.Duration) bool {
	fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int(d.Milliseconds()))
	return err == nil && n > 0
}

// DropHostView takes the prepared view away, for a run without it:
// closing its /dev/fuse descriptor ends the connection, so anything that
// looks there gets ENOTCONN instead of waiting for an INIT nobody
// answers. The mounts stay, unused.
func (linuxGuest) DropHostView() {
	if preparedView != nil {
		preparedView.dev.Close()
		preparedView = nil
	}
}

// setUpView opens the host view's port and /dev/fuse, mounts the view at
// hostViewDir and binds the guest's root at guestRootDir.
func setUpView() (c *hostViewConn, err error) {
	if err := loadModules(); err != nil {
		return nil, err
	}
	port, err := openNamedPort(filesPortName)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening /dev/fuse: %w", err)
	}
	dev := os.NewFile(uintptr(fd), "/dev/fuse")
	defer func() {
		if err != nil {
			dev.Close()
		}
	}()
	for _, d := range []string{hostViewDir, guestRootDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	opts := fmt.Sprintf("fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions", fd)
	if err := unix.Mount("bpflab-host", hostViewDir, "fuse.bpflab", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return nil, fmt.Errorf("mounting the host view: %w", err)
	}
	// The overlay's lowest guest layer: the root as the initramfs and the
	// job's archive fill it, without the file systems mounted on it.
	if err := unix.Mount("/", guestRootDir, "", unix.MS_BIND, ""); err != nil {
		return nil, fmt.Errorf("binding the guest's root at %s: %w", guestRootDir, err)
	}
	// The directories the init's own file systems are bound on in the
	// merged root end the overlay's lookups there (opaque): binding them
	// asks the host nothing, and the host's /proc or /tmp never shows
	// through. Where the root cannot carry the mark, the host is asked.
	for _, m := range guestMountPoints {
		_ = unix.Setxattr(filepath.Join(guestRootDir, m.dir), "trusted.overlay.opaque", []byte("y"), 0)
	}
	return &hostViewConn{port: port, dev: dev, buf: make([]byte, fuseReadSize)}, nil
}

// StartHostView starts the relay and starts merging the guest's
// root with the host's (see mergeRoot) beside what the init does
// meanwhile: a restored guest starts as soon as the job's header says the
// run uses the view, while the job's files arrive. It sets the view up
// first unless PrepareHostView did.
func (linuxGuest) StartHostView() {
	c := preparedView
	if c == nil {
		var err error
		if c, err = setUpView(); err != nil {
			c = &hostViewConn{merged: make(chan struct{}), err: err}
			close(c.merged)
			preparedView = c
			return
		}
		preparedView = c
	}
	if c.relaying {
		return // started already
	}
	c.relaying = true
	if c.init != nil {
		// This run's host has not seen the INIT of the saved guest's
		// kernel; its answer goes to a request the kernel no longer
		// waits for, which the kernel refuses (relayToKernel ignores it).
		_ = NewFrameWriter(c.port).WriteFrame(FrameFuse, c.init)
	}
	if c.start != nil {
		close(c.start)
		return
	}
	go relayToHost(c.dev, c.port, c.buf)
	go relayToKernel(c.port, c.dev)
	if c.merged == nil {
		c.merged = make(chan struct{})
		go func() {
			defer close(c.merged)
			c.err = mergeRoot()
		}()
	}
}

// MountHostView finishes the host view once the job's files are in place
// (StartHostView first, if it has not been called): the job's directory
// under /tmp as the host has it too, if it does (a tree checked out
// there, in CI); the kernel's modules at /lib/modules/RELEASE. It returns the root the payload runs in, as a
// path from the init's working directory.
func (g linuxGuest) MountHostView(job *Job, tmp string) (string, error) {
	g.StartHostView()
	c := preparedView
	<-c.merged
	if c.err != nil {
		return "", c.err
	}
	for _, name := range job.HostLinks {
		// An empty directory of the guest's (/sbin, which the job's
		// archive makes) would hide the host's link (/sbin -> usr/sbin).
		// Nothing has looked it up in the merged root yet.
		_ = unix.Rmdir("/" + name) // only an empty one goes; a mount point stays (EBUSY)
	}
	if tmp != "" {
		// /tmp is the guest's own, but a tree checked out there (CI) is
		// the job's: its top directory is shown like the host's others,
		// in the merged root.
		if fi, err := os.Lstat(filepath.Join(hostViewDir, tmp)); err == nil && fi.IsDir() {
			if err := overlayDir(filepath.Join(mergedDir, tmp), tmp+":"+filepath.Join(hostViewDir, tmp), "tmp"); err != nil {
				return "", err
			}
		}
	}
	if job.ModuleTree != "" {
		if err := linkModules(job.ModuleTree, job.HostLib); err != nil {
			return "", err
		}
	}
	// The merged root goes on top of the guest's, as switch_root puts a
	// booted system's: the payload, made to chroot to the init's working
	// directory (which moves with it), then has the top of its mount
	// namespace's root as its root, not a chroot of it, and may create
	// user namespaces (BPF tokens' tests do). The init's own root stays
	// the guest's.
	if err := os.Chdir(mergedDir); err != nil {
		return "", err
	}
	if err := unix.Mount(mergedDir, "/", "", unix.MS_MOVE, ""); err != nil {
		return "", fmt.Errorf("moving the merged root onto /: %w", err)
	}
	return ".", nil
}

// relayToHost sends each FUSE request the kernel queues for the host (see
// nextRequest), one read each, in a frame of its own.
func relayToHost(dev io.ReadWriter, port io.Writer, buf []byte) {
	fw := NewFrameWriter(port)
	for {
		req, err := nextRequest(dev, buf)
		if err != nil {
			return
		}
		if req != nil && fw.WriteFrame(FrameFuse, req) != nil {
			return
		}
	}
}

// nextRequest reads one FUSE request from dev into buf and returns it if
// it is the host's to answer. One the guest answers itself (see
// answerHere) is answered on dev, and one interrupted before it was read
// is dropped: nil for both.
func nextRequest(dev io.ReadWriter, buf []byte) ([]byte, error) {
	n, err := dev.Read(buf)
	if err != nil {
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, err
	}
	if a := answerHere(buf[:n]); a != nil {
		_, _ = dev.Write(a) // an answer to an interrupted request is refused; nothing to do
		return nil, nil
	}
	return buf[:n], nil
}

// relayToKernel hands each answer from the host to the kernel, one write
// each.
func relayToKernel(port io.Reader, dev io.Writer) {
	for {
		f, err := readFrame(port)
		if err != nil {
			return
		}
		if f.Type == FrameFuse {
			_, _ = dev.Write(f.Data) // an answer to an interrupted request is refused; nothing to do
		}
	}
}

// The guest's own root, as the initramfs made it (without the mounts on
// it), and the one overlay of it over the host's root.
const (
	guestRootDir = "/run/bpflab/guest"
	mergedDir    = "/run/bpflab/merged"
)

// guestMountPoints are the init's file systems the payload sees in the
// merged root, in this order, and whether their own mounts come along.
var guestMountPoints = []struct {
	dir string
	rec bool
}{{"proc", false}, {"sys", true}, {"dev", true}, {"run", false}, {"tmp", true}}

// mergeRoot mounts one overlay of the guest's root over the host's, a
// tmpfs on top for writes, at mergedDir, where the payload runs (chroot):
// the guest's files (the payload, its libraries, /etc/passwd) hide the
// host's of the same name, and every other path is the host's, read on
// demand. The init's /proc, /sys, /dev, /run and /tmp are bound into it.
func mergeRoot() error {
	if err := overlayDir(mergedDir, guestRootDir+":"+hostViewDir, "root"); err != nil {
		return err
	}
	for _, m := range guestMountPoints {
		flags := uintptr(unix.MS_BIND)
		if m.rec {
			flags |= unix.MS_REC
		}
		if err := unix.Mount("/"+m.dir, filepath.Join(mergedDir, m.dir), "", flags, ""); err != nil {
			return fmt.Errorf("binding /%s in the merged root: %w", m.dir, err)
		}
	}
	return nil
}

// linkModules makes /lib/modules/RELEASE a symbolic link to the kernel's
// module tree, in the guest's root: the tree is at its host path in the
// merged root the payload runs in, where modprobe finds the
// modules there, and nothing of the tree is asked of the host until
// something reads it. /lib is the host's when the guest has none: where
// the host's points when it is a link (hostLib, usr/lib).
func linkModules(tree, hostLib string) error {
	lib := "/lib"
	if _, err := os.Lstat(lib); err != nil && hostLib != "" {
		lib = filepath.Join("/", hostLib)
	}
	dst := filepath.Join(lib, "modules", filepath.Base(tree))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	_ = os.Remove(dst) // an empty directory the archive made
	if err := os.Symlink(tree, dst); err != nil {
		return fmt.Errorf("showing the kernel's modules at %s: %w", dst, err)
	}
	return nil
}

// overlayDir mounts an overlay of lower (layers joined by ':') on dir,
// with a tmpfs directory named layer for its writes.
func overlayDir(dir, lower, layer string) error {
	upper, work := filepath.Join("/run/bpflab/overlay", layer, "upper"), filepath.Join("/run/bpflab/overlay", layer, "work")
	for _, d := range []string{dir, upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	data := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", dir, "overlay", 0, data); err != nil {
		return fmt.Errorf("overlay on %s (%s): %w", dir, strings.ReplaceAll(data, ",", " "), err)
	}
	return nil
}
