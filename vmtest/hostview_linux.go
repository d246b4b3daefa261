package vmtest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// hostViewDir is where the init mounts the host's root.
const hostViewDir = "/run/bpflab/host"

// hostViewConn is the host view's FUSE mount: the port its requests go
// out on and the /dev/fuse descriptor they come from.
type hostViewConn struct {
	port io.ReadWriter
	dev  *os.File
	// merged is closed when the merged root is ready (see mergeRoot),
	// with err saying whether it is.
	merged chan struct{}
	err    error
}

// preparedView is the host view a warm guest set up before it was saved
// (see PrepareHostView), or nil.
var preparedView *hostViewConn

// PrepareHostView sets the host view up as far as it can without the
// host: it mounts the FUSE file system, whose first request (INIT) the
// kernel queues until the relay reads it, and binds the guest's root for
// the overlay. A guest saved at this point spares each restored run that
// uses the view the set-up's syscalls, and the host that answers INIT
// after the restore is the one that serves the run. The relay itself
// starts with the run: its goroutines, parked in a saved guest, cost a
// run without the view some 30 ms of its payload's time (measured, not
// understood). A run without the view drops it (DropHostView). Failing
// here is not fatal: StartHostView tries again, and says why.
func (linuxGuest) PrepareHostView() {
	if c, err := setUpView(); err == nil {
		preparedView = c
	}
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
	_ = unix.Setxattr(filepath.Join(guestRootDir, "tmp"), "trusted.overlay.opaque", []byte("y"), 0)
	return &hostViewConn{port: port, dev: dev}, nil
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
	if c.merged != nil {
		return // started already
	}
	c.merged = make(chan struct{})
	go relayToHost(c.dev, c.dev, c.port)
	go relayToKernel(c.port, c.dev)
	go func() {
		defer close(c.merged)
		c.err = mergeRoot()
	}()
}

// MountHostView finishes the host view once the job's files are in place
// (StartHostView first, if it has not been called): the job's directory
// under /tmp, if the host has it (a tree checked out there, in CI), and
// the guest's /tmp in the merged root; the kernel's modules at
// /lib/modules/RELEASE. It returns the root the payload runs in, as a
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
		if p := "/" + name; isEmptyDir(p) {
			_ = os.Remove(p) // a mount point stays (EBUSY)
		}
	}
	if tmp != "" {
		// /tmp is the guest's own, but a tree checked out there (CI) is
		// the job's: its top directory is shown like the host's others.
		if fi, err := os.Lstat(filepath.Join(hostViewDir, tmp)); err == nil && fi.IsDir() {
			if err := overlayDir(tmp, tmp+":"+filepath.Join(hostViewDir, tmp), "tmp"); err != nil {
				return "", err
			}
		}
	}
	if err := unix.Mount("/tmp", filepath.Join(mergedDir, "tmp"), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", fmt.Errorf("binding /tmp in the merged root: %w", err)
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

// relayToHost sends each FUSE request the kernel queues, one read each, in
// a frame of its own, but for those the guest answers itself (see
// answerHere): those answers go straight back to the kernel, on dev.
func relayToHost(dev io.Reader, answers io.Writer, port io.Writer) {
	fw := NewFrameWriter(port)
	buf := make([]byte, maxFrame)
	for {
		n, err := dev.Read(buf)
		if err != nil {
			if err == unix.EINTR || err == unix.ENOENT {
				continue // a request interrupted before it was read
			}
			return
		}
		if a := answerHere(buf[:n]); a != nil {
			_, _ = answers.Write(a)
			continue
		}
		if fw.WriteFrame(FrameFuse, buf[:n]) != nil {
			return
		}
	}
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
}{{"proc", false}, {"sys", true}, {"dev", true}, {"run", false}}

// mergeRoot mounts one overlay of the guest's root over the host's, a
// tmpfs on top for writes, at mergedDir, where the payload runs (chroot):
// the guest's files (the payload, its libraries, /etc/passwd) hide the
// host's of the same name, and every other path is the host's, read on
// demand. The init's /proc, /sys, /dev and /run are bound into it (/tmp,
// once the job's files are there: MountHostView).
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

func isEmptyDir(p string) bool {
	ents, err := os.ReadDir(p)
	return err == nil && len(ents) == 0
}
