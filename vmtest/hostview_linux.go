package vmtest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// hostViewDir is where the init mounts the host's root.
const hostViewDir = "/run/bpflab/host"

// hostViewConn is the host view's FUSE mount, its relay started but held
// at a gate that says whether the run uses the view.
type hostViewConn struct {
	gate chan bool
}

// preparedView is the host view a warm guest set up before it was saved
// (see PrepareHostView), or nil.
var preparedView *hostViewConn

// PrepareHostView sets the host view up as far as it can without the
// host: it mounts the FUSE file system, binds the guest's root for the
// overlay, and starts the relay, which holds the kernel's first request
// (INIT) until the run opens the gate. A guest saved at this point spares
// each restored run that uses the view the set-up's syscalls and threads,
// and the host that answers INIT after the restore is the one that serves
// the run. A run without the view drops it (DropHostView). Failing here
// is not fatal: MountHostView tries again, and says why.
func (linuxGuest) PrepareHostView() {
	if c, err := setUpView(); err == nil {
		preparedView = c
	}
}

// DropHostView takes the prepared view away, for a run without it: the
// relay, told so at its gate, does it beside the payload (see
// relayToHost).
func (linuxGuest) DropHostView() {
	if preparedView != nil {
		preparedView.gate <- false
		preparedView = nil
	}
}

// setUpView opens the host view's port and /dev/fuse, mounts the view at
// hostViewDir, binds the guest's root at guestRootDir and starts the
// relay, gated.
func setUpView() (*hostViewConn, error) {
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
	for _, d := range []string{hostViewDir, guestRootDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			dev.Close()
			return nil, err
		}
	}
	opts := fmt.Sprintf("fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions", fd)
	if err := unix.Mount("bpflab-host", hostViewDir, "fuse.bpflab", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		dev.Close()
		return nil, fmt.Errorf("mounting the host view: %w", err)
	}
	// The overlay's lowest guest layer: the root as the initramfs and the
	// job's archive fill it, without the file systems mounted on it.
	if err := unix.Mount("/", guestRootDir, "", unix.MS_BIND, ""); err != nil {
		dev.Close()
		return nil, fmt.Errorf("binding the guest's root at %s: %w", guestRootDir, err)
	}
	c := &hostViewConn{gate: make(chan bool, 1)}
	go relayToHost(dev, dev, port, c.gate)
	go relayToKernel(port, dev)
	return c, nil
}

// MountHostView opens the relay's gate (setting the view up first unless
// PrepareHostView did) and puts the host's top-level directories at
// their paths (see hostview.go).
func (g linuxGuest) MountHostView(moduleTree, tmp string) error {
	c := preparedView
	if c == nil {
		var err error
		if c, err = setUpView(); err != nil {
			return err
		}
	}
	c.gate <- true
	if err := overlayHost(moduleTree); err != nil {
		return err
	}
	if tmp != "" {
		// /tmp is the guest's own, but a tree checked out there (CI) is
		// the job's: its top directory is shown like the host's others.
		if fi, err := os.Lstat(filepath.Join(hostViewDir, tmp)); err == nil && fi.IsDir() {
			if err := overlayDir(tmp, tmp+":"+filepath.Join(hostViewDir, tmp), "tmp"); err != nil {
				return err
			}
		}
	}
	return nil
}

// relayToHost sends each FUSE request the kernel queues, one read each, in
// a frame of its own, but for those the guest answers itself (see
// answerHere): those answers go straight back to the kernel, on dev.
// Nothing leaves before gate says the run uses the view; if it does not,
// the relay ends the view instead: closing /dev/fuse ends the connection
// (anything that looks there gets ENOTCONN, never waits for an INIT
// nobody answers), and the mounts are detached, which waits for the
// kernel (about 15 ms under TCG) while the payload runs.
func relayToHost(dev io.ReadCloser, answers io.Writer, port io.Writer, gate <-chan bool) {
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
		if gate != nil {
			if !<-gate {
				dev.Close()
				_ = unix.Unmount(hostViewDir, unix.MNT_DETACH)
				_ = unix.Unmount(guestRootDir, unix.MNT_DETACH)
				return
			}
			gate = nil
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

// overlayHost puts the host's top-level directories at their paths: a
// symlink where the host has one and the guest nothing, else the
// directory of one overlay of the guest's root over the host's, with a
// tmpfs for writes, bound there. One overlay bound many times costs the
// guest a fraction of an overlay per directory: setting an overlay up
// probes its upper file system's features, some 6 ms of a vCPU under TCG.
func overlayHost(moduleTree string) error {
	ents, err := os.ReadDir(hostViewDir)
	if err != nil {
		return fmt.Errorf("listing the host's root: %w", err)
	}
	links := readLinks(ents)
	if moduleTree != "" {
		if err := linkModules(moduleTree, links); err != nil {
			return err
		}
	}
	if err := overlayDir(mergedDir, guestRootDir+":"+hostViewDir, "root"); err != nil {
		return err
	}
	for _, e := range ents {
		if hostViewSkip[e.Name()] {
			continue
		}
		if err := showHostDir(e, links); err != nil {
			return err
		}
	}
	return nil
}

// readLinks returns the targets of the symbolic links among the host's
// top-level entries, read side by side (a round trip to the host each).
func readLinks(ents []os.DirEntry) map[string]string {
	var mu sync.Mutex
	var wg sync.WaitGroup
	links := map[string]string{}
	for _, e := range ents {
		if e.Type()&os.ModeSymlink == 0 || hostViewSkip[e.Name()] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if t, err := os.Readlink(filepath.Join(hostViewDir, e.Name())); err == nil {
				mu.Lock()
				links[e.Name()] = t
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return links
}

// linkModules makes /lib/modules/RELEASE a symbolic link to the kernel's
// module tree in the host view, in the guest's root before the overlay
// takes it as a layer: modprobe finds the modules there, and nothing of
// the tree is asked of the host until something reads it. /lib is the
// host's when the guest has none: where the host's points, if it is a
// link (usr/lib).
func linkModules(tree string, links map[string]string) error {
	lib := "/lib"
	if _, err := os.Lstat(lib); err != nil {
		if t, ok := links["lib"]; ok {
			lib = filepath.Join("/", t)
		}
	}
	dst := filepath.Join(lib, "modules", filepath.Base(tree))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	_ = os.Remove(dst) // an empty directory the archive made
	if err := os.Symlink(filepath.Join(hostViewDir, tree), dst); err != nil {
		return fmt.Errorf("showing the kernel's modules at %s: %w", dst, err)
	}
	return nil
}

// showHostDir puts one entry of the host's root in the guest, at its
// path name relative to the root.
func showHostDir(e os.DirEntry, links map[string]string) error {
	name := e.Name()
	guest := "/" + name
	gi, gerr := os.Lstat(guest)
	empty := gerr == nil && gi.IsDir() && isEmptyDir(guest)
	switch typ := e.Type(); {
	case typ&os.ModeSymlink != 0:
		target, ok := links[name]
		if !ok {
			return nil
		}
		if empty {
			_ = os.Remove(guest)
		}
		if gerr != nil || empty {
			return os.Symlink(target, guest)
		}
	case typ.IsDir():
		if gerr == nil && !gi.IsDir() {
			return nil
		}
		if gerr != nil {
			if err := os.MkdirAll(guest, 0o755); err != nil {
				return err
			}
		}
		if err := unix.Mount(filepath.Join(mergedDir, name), guest, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("showing the host's %s: %w", guest, err)
		}
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
