package vmtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/cavaliergopher/cpio"
)

// warmCmdline on the kernel command line tells the init it boots for a
// snapshot: it opens the virtio-serial port, says it is ready, and waits
// there for its job instead of reading it from the initramfs.
const warmCmdline = "bpflab.warm=1"

// warmPortName is the virtio-serial port's name, as the guest sees it in
// /sys/class/virtio-ports/*/name.
const warmPortName = "org.bpflab.job"

// readyViewPrepared, in a ready frame, says the guest's host view is
// made (see PrepareHostView).
const readyViewPrepared = 1

// warmModulesDir is where the warm initramfs holds the modules the port
// needs, for kernels that do not build them in.
const warmModulesDir = "/bpflab/modules"

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// awaitJob says the guest is ready and blocks until a host hands it a job:
// the host saves the guest while it waits here, and every guest restored
// from that snapshot goes on from this point. The host wakes a restored
// guest, which says it is ready again; then the job's header brings the
// host's time and entropy, and its files arrive as a cpio archive that is
// unpacked into the root, /tmp included (empty at the snapshot).
func awaitJob(g guestOS, fw *lockedFrameWriter, port io.Reader, ready []byte) error {
	var f Frame
	for f.Type != FrameJob {
		if err := fw.WriteFrame(FrameReady, ready); err != nil {
			return err
		}
		var err error
		if f, err = readFrame(port); err != nil {
			return err
		}
		if f.Type != FrameWake && f.Type != FrameJob {
			break
		}
	}
	if f.Type != FrameJob {
		return fmt.Errorf("%w: %v frame where the job was due", ErrBadFrame, f.Type)
	}
	h, err := decodeJobHeader(f.Data)
	if err != nil {
		return err
	}
	if err := g.SetTime(h.Time); err != nil {
		return fmt.Errorf("setting the clock: %w", err)
	}
	if err := g.AddEntropy(h.Seed[:]); err != nil {
		return fmt.Errorf("seeding the random pool: %w", err)
	}
	if h.View {
		g.StartHostView()
	}
	return unpack(g, bufio.NewReaderSize(port, 1<<20))
}

// unpack writes a cpio archive's entries under the root, up to its trailer.
func unpack(g guestOS, r io.Reader) error {
	cr := cpio.NewReader(r)
	for {
		hdr, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the job's archive: %w", err)
		}
		p := path.Clean("/" + hdr.Name)
		if p == "/" {
			continue
		}
		if err := g.MkdirAll(path.Dir(p), 0o755); err != nil {
			return err
		}
		switch hdr.Mode & cpio.ModeType {
		case cpio.TypeDir:
			err = g.MkdirAll(p, 0o755)
		case cpio.TypeSymlink:
			err = g.Symlink(hdr.Linkname, p)
		case cpio.TypeReg:
			var w io.WriteCloser
			if w, err = g.Create(p, hdr.FileInfo().Mode().Perm()); err == nil {
				_, err = io.Copy(w, cr)
				if cerr := w.Close(); err == nil {
					err = cerr
				}
			}
		}
		if err != nil {
			return fmt.Errorf("unpacking %s: %w", p, err)
		}
	}
}
