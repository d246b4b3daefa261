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

// MountHostView mounts the host's root read-only at hostViewDir over FUSE,
// relaying the kernel's requests on the host view's port, and lays an
// overlay over each top-level directory (see hostview.go).
func (g linuxGuest) MountHostView(moduleTree, tmp string) error {
	if err := loadModules(); err != nil {
		return err
	}
	port, err := openNamedPort(filesPortName)
	if err != nil {
		return err
	}
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening /dev/fuse: %w", err)
	}
	dev := os.NewFile(uintptr(fd), "/dev/fuse")
	if err := os.MkdirAll(hostViewDir, 0o755); err != nil {
		return err
	}
	opts := fmt.Sprintf("fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions", fd)
	if err := unix.Mount("bpflab-host", hostViewDir, "fuse.bpflab", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mounting the host view: %w", err)
	}
	go relayToHost(dev, dev, port)
	go relayToKernel(port, dev)
	if err := overlayHost(); err != nil {
		return err
	}
	if tmp != "" {
		// /tmp is the guest's own, but a tree checked out there (CI) is
		// the job's: its top directory is shown like the host's others.
		if fi, err := os.Lstat(filepath.Join(hostViewDir, tmp)); err == nil && fi.IsDir() {
			if err := showHostPath(strings.TrimPrefix(tmp, "/"), fi.Mode().Type()); err != nil {
				return err
			}
		}
	}
	if moduleTree == "" {
		return nil
	}
	dst := filepath.Join("/lib/modules", filepath.Base(moduleTree))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(filepath.Join(hostViewDir, moduleTree), dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("showing the kernel's modules at %s: %w", dst, err)
	}
	return nil
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

// overlayHost puts the host's top-level directories at their paths: a
// symlink where the host has one and the guest nothing, else an overlay
// of the guest's directory (if any) over the host's, with a tmpfs for
// writes. The overlays are mounted at once: each costs the host a few
// answers, and the relay carries them side by side.
func overlayHost() error {
	ents, err := os.ReadDir(hostViewDir)
	if err != nil {
		return fmt.Errorf("listing the host's root: %w", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(ents))
	for _, e := range ents {
		if hostViewSkip[e.Name()] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := showHostDir(e); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// showHostDir puts one entry of the host's root in the guest, at its
// path name relative to the root.
func showHostDir(e os.DirEntry) error { return showHostPath(e.Name(), e.Type()) }

func showHostPath(name string, typ os.FileMode) error {
	host, guest := filepath.Join(hostViewDir, name), "/"+name
	gi, gerr := os.Lstat(guest)
	empty := gerr == nil && gi.IsDir() && isEmptyDir(guest)
	switch {
	case typ&os.ModeSymlink != 0:
		target, err := os.Readlink(host)
		if err != nil {
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
		lower := host
		if gerr == nil && !empty {
			lower = guest + ":" + host
		} else if err := os.MkdirAll(guest, 0o755); err != nil {
			return err
		}
		layer := strings.ReplaceAll(name, "/", "_")
		upper, work := filepath.Join("/run/bpflab/overlay", layer, "upper"), filepath.Join("/run/bpflab/overlay", layer, "work")
		if err := os.MkdirAll(upper, 0o755); err != nil {
			return err
		}
		if err := os.MkdirAll(work, 0o755); err != nil {
			return err
		}
		data := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
		if err := unix.Mount("overlay", guest, "overlay", 0, data); err != nil {
			return fmt.Errorf("overlay on %s (%s): %w", guest, strings.ReplaceAll(data, ",", " "), err)
		}
	}
	return nil
}

func isEmptyDir(p string) bool {
	ents, err := os.ReadDir(p)
	return err == nil && len(ents) == 0
}
