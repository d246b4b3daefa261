package vmtest

// The host view: the host's files, read-only, at their own paths in the
// guest, fetched when the guest asks for them. The guest's kernel speaks
// FUSE to the init through /dev/fuse; the init passes each request, as it
// is, in a frame on a second virtio-serial port, and passes the answers
// back. On the host, go-fuse's protocol server answers them from a
// loopback of / that refuses every change. In the guest, the payload runs
// in one overlay of the guest's root over the host's: what the guest has
// (the payload, its libraries, /etc/passwd) hides the host's, a tmpfs on
// top takes the writes, and the init's /proc, /sys, /dev, /run and /tmp
// are bound in.

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// filesPortName is the host view's virtio-serial port, as the guest sees it.
const filesPortName = "org.bpflab.files"

// hostRootLinks returns the names of root's symbolic links and where
// root/lib points, if it is one (usr/lib where /usr is merged).
func hostRootLinks(root string) (links []string, lib string) {
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if e.Type()&os.ModeSymlink != 0 {
			links = append(links, e.Name())
		}
	}
	lib, _ = os.Readlink(filepath.Join(root, "lib"))
	return links, lib
}

// serveHostView answers the FUSE requests that arrive on port with the
// host's files under root, read-only, until port is closed.
func serveHostView(ctx context.Context, port io.ReadWriter, root string) error {
	node, err := fs.NewLoopbackRoot(root)
	if err != nil {
		return err
	}
	// Names and attributes of the host's files rarely change during a run.
	timeout := 10 * time.Second
	opts := &fs.Options{EntryTimeout: &timeout, AttrTimeout: &timeout}
	raw := readOnly{fs.NewNodeFS(node, opts)}
	ps := fuse.NewProtocolServer(raw, &fuse.MountOptions{MaxWrite: 128 << 10})
	// Requests are answered side by side, as go-fuse's own server does;
	// each answer carries its request's id, so their order is free.
	fw := &lockedFrameWriter{fw: NewFrameWriter(port)}
	bufs := sync.Pool{New: func() any { return make([]byte, maxFrame) }}
	for ctx.Err() == nil {
		f, err := readFrame(port)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
				return nil // the guest is gone
			}
			return err
		}
		if f.Type != FrameFuse || len(f.Data) < fuseInHeader {
			continue
		}
		answer := func() {
			out := bufs.Get().([]byte)
			defer bufs.Put(out)
			if n := handleRequest(ps, f.Data, out); n > 0 { // FORGET has no answer
				_ = fw.WriteFrame(FrameFuse, out[:n])
			}
		}
		if binary.LittleEndian.Uint32(f.Data[4:8]) == fuseInit {
			// What INIT settles shapes how the requests after it are
			// read: answered before the next is taken.
			answer()
			continue
		}
		go answer()
	}
	return ctx.Err()
}

// handleRequest answers one request into out and returns the answer's
// length. A request go-fuse cannot take (a node it does not know, which it
// panics on) gets EIO, not the end of bpflab.
func handleRequest(ps *fuse.ProtocolServer, req, out []byte) (n int) {
	defer func() {
		if recover() != nil {
			n = fuseOutHeader
			putOutHeader(out[:n], req, syscall.EIO)
		}
	}()
	n, _ = ps.HandleRequest([][]byte{req}, [][]byte{out})
	return n
}

// readOnly refuses every request that would change the host's files: the
// guest mounts the view read-only, but a payload that is root in the guest
// could send requests of its own.
type readOnly struct{ fuse.RawFileSystem }

const rofs = fuse.Status(syscall.EROFS)

func (readOnly) SetAttr(<-chan struct{}, *fuse.SetAttrIn, *fuse.AttrOut) fuse.Status { return rofs }
func (readOnly) Mknod(<-chan struct{}, *fuse.MknodIn, string, *fuse.EntryOut) fuse.Status {
	return rofs
}
func (readOnly) Mkdir(<-chan struct{}, *fuse.MkdirIn, string, *fuse.EntryOut) fuse.Status {
	return rofs
}
func (readOnly) Unlink(<-chan struct{}, *fuse.InHeader, string) fuse.Status { return rofs }
func (readOnly) Rmdir(<-chan struct{}, *fuse.InHeader, string) fuse.Status  { return rofs }
func (readOnly) Rename(<-chan struct{}, *fuse.RenameIn, string, string) fuse.Status {
	return rofs
}
func (readOnly) Link(<-chan struct{}, *fuse.LinkIn, string, *fuse.EntryOut) fuse.Status {
	return rofs
}
func (readOnly) Symlink(<-chan struct{}, *fuse.InHeader, string, string, *fuse.EntryOut) fuse.Status {
	return rofs
}
func (readOnly) SetXAttr(<-chan struct{}, *fuse.SetXAttrIn, string, []byte) fuse.Status {
	return rofs
}
func (readOnly) RemoveXAttr(<-chan struct{}, *fuse.InHeader, string) fuse.Status { return rofs }
func (readOnly) Create(<-chan struct{}, *fuse.CreateIn, string, *fuse.CreateOut) fuse.Status {
	return rofs
}
func (readOnly) Tmpfile(<-chan struct{}, *fuse.CreateIn, *fuse.CreateOut) fuse.Status { return rofs }
func (readOnly) Write(<-chan struct{}, *fuse.WriteIn, []byte) (uint32, fuse.Status) {
	return 0, rofs
}
func (readOnly) Writev(<-chan struct{}, *fuse.WriteIn, [][]byte) (uint32, fuse.Status) {
	return 0, rofs
}
func (readOnly) CopyFileRange(<-chan struct{}, *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	return 0, rofs
}
func (readOnly) Fallocate(<-chan struct{}, *fuse.FallocateIn) fuse.Status { return rofs }
func (readOnly) Ioctl(<-chan struct{}, *fuse.IoctlIn, []byte, *fuse.IoctlOut, []byte) fuse.Status {
	return fuse.ENOSYS
}

// openFlags are the open flags passed on to the host. The guest's kernel
// sends its own as well: overlayfs up to 6.1 adds O_NOATIME (refused for
// another user's file) and FMODE_NONOTIFY, which the host's open(2) turns
// into EINVAL.
const openFlags = syscall.O_ACCMODE | syscall.O_NOFOLLOW | syscall.O_DIRECTORY | syscall.O_NONBLOCK | syscall.O_LARGEFILE

func (r readOnly) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if in.Flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND|syscall.O_CREAT) != 0 {
		return rofs
	}
	clean := *in
	clean.Flags &= openFlags
	return r.RawFileSystem.Open(cancel, &clean, out)
}

func (r readOnly) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	clean := *in
	clean.Flags &= openFlags
	return r.RawFileSystem.OpenDir(cancel, &clean, out)
}

// FUSE requests the guest's relay answers itself, sparing a round trip
// to the host each (about 4 ms under TCG): overlayfs asks every lower
// layer's STATFS when it mounts (14 of the 44 requests of mounting the
// view), for a name length; xattrs the read-only view does not carry
// (ENOSYS: the kernel then stops asking).
const (
	fuseInit      = 26
	fuseStatfs    = 17
	fuseGetxattr  = 22
	fuseListxattr = 23
	fuseInHeader  = 40 // struct fuse_in_header
	fuseOutHeader = 16 // struct fuse_out_header
	fuseStatfsOut = 80 // struct fuse_statfs_out
)

// answerHere returns the answer to FUSE request req when the guest gives
// it without the host, or nil.
func answerHere(req []byte) []byte {
	if len(req) < fuseInHeader {
		return nil
	}
	var out []byte
	var errno syscall.Errno
	switch binary.LittleEndian.Uint32(req[4:8]) {
	case fuseStatfs:
		// Only the name length matters (overlayfs takes the least of its
		// layers'); the view offers no space.
		out = make([]byte, fuseOutHeader+fuseStatfsOut)
		st := out[fuseOutHeader:]
		binary.LittleEndian.PutUint32(st[40:], 4096) // bsize
		binary.LittleEndian.PutUint32(st[44:], 255)  // namelen
		binary.LittleEndian.PutUint32(st[48:], 4096) // frsize
	case fuseGetxattr, fuseListxattr:
		out, errno = make([]byte, fuseOutHeader), syscall.ENOSYS
	default:
		return nil
	}
	putOutHeader(out, req, errno)
	return out
}

// putOutHeader fills in the header of out, the whole answer to request
// req: its length, errno (0 for none) and the request's id.
func putOutHeader(out, req []byte, errno syscall.Errno) {
	binary.LittleEndian.PutUint32(out[0:], uint32(len(out)))
	binary.LittleEndian.PutUint32(out[4:], uint32(-int32(errno)))
	copy(out[8:16], req[8:16]) // unique
}
