package vmtest

import (
	"encoding/binary"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Whatever a guest sends, the host view changes nothing on the host.
func TestHostViewIsReadOnly(t *testing.T) {
	ro := readOnly{fuse.NewDefaultRawFileSystem()}
	never := make(chan struct{})
	for name, st := range map[string]fuse.Status{
		"setattr":          ro.SetAttr(never, &fuse.SetAttrIn{}, &fuse.AttrOut{}),
		"mknod":            ro.Mknod(never, &fuse.MknodIn{}, "x", &fuse.EntryOut{}),
		"mkdir":            ro.Mkdir(never, &fuse.MkdirIn{}, "x", &fuse.EntryOut{}),
		"unlink":           ro.Unlink(never, &fuse.InHeader{}, "x"),
		"rmdir":            ro.Rmdir(never, &fuse.InHeader{}, "x"),
		"rename":           ro.Rename(never, &fuse.RenameIn{}, "x", "y"),
		"link":             ro.Link(never, &fuse.LinkIn{}, "x", &fuse.EntryOut{}),
		"symlink":          ro.Symlink(never, &fuse.InHeader{}, "x", "y", &fuse.EntryOut{}),
		"setxattr":         ro.SetXAttr(never, &fuse.SetXAttrIn{}, "user.x", nil),
		"rmxattr":          ro.RemoveXAttr(never, &fuse.InHeader{}, "user.x"),
		"create":           ro.Create(never, &fuse.CreateIn{}, "x", &fuse.CreateOut{}),
		"tmpfile":          ro.Tmpfile(never, &fuse.CreateIn{}, &fuse.CreateOut{}),
		"fallocate":        ro.Fallocate(never, &fuse.FallocateIn{}),
		"open for writing": ro.Open(never, &fuse.OpenIn{Flags: syscall.O_WRONLY}, &fuse.OpenOut{}),
		"open to truncate": ro.Open(never, &fuse.OpenIn{Flags: syscall.O_RDONLY | syscall.O_TRUNC}, &fuse.OpenOut{}),
	} {
		if st != rofs {
			t.Errorf("%s: %v, want EROFS", name, st)
		}
	}
	if _, st := ro.Write(never, &fuse.WriteIn{}, []byte("x")); st != rofs {
		t.Errorf("write: %v, want EROFS", st)
	}
	if _, st := ro.CopyFileRange(never, &fuse.CopyFileRangeIn{}); st != rofs {
		t.Errorf("copy_file_range: %v, want EROFS", st)
	}
	if st := ro.Open(never, &fuse.OpenIn{}, &fuse.OpenOut{}); st == rofs {
		t.Errorf("open for reading refused")
	}
}

// Flags the guest's kernel adds (overlayfs up to 6.1: O_NOATIME and
// FMODE_NONOTIFY) never reach the host's open(2).
func TestHostViewCleansOpenFlags(t *testing.T) {
	var got uint32
	ro := readOnly{flagRecorder{fuse.NewDefaultRawFileSystem(), &got}}
	const fmodeNoNotify = 0x4000000
	ro.Open(make(chan struct{}), &fuse.OpenIn{Flags: syscall.O_RDONLY | syscall.O_NOATIME | fmodeNoNotify | syscall.O_LARGEFILE}, &fuse.OpenOut{})
	if got != syscall.O_LARGEFILE {
		t.Errorf("flags passed on %#x, want O_LARGEFILE alone", got)
	}
}

type flagRecorder struct {
	fuse.RawFileSystem
	flags *uint32
}

func (f flagRecorder) Open(_ <-chan struct{}, in *fuse.OpenIn, _ *fuse.OpenOut) fuse.Status {
	*f.flags = in.Flags
	return fuse.OK
}

// The relay answers STATFS and the xattr requests itself, with the
// request's id; everything else goes to the host.
func TestAnswerHere(t *testing.T) {
	req := func(op uint32) []byte {
		b := make([]byte, fuseInHeader)
		binary.LittleEndian.PutUint32(b[0:], fuseInHeader)
		binary.LittleEndian.PutUint32(b[4:], op)
		binary.LittleEndian.PutUint64(b[8:], 0x1234)
		return b
	}
	st := answerHere(req(fuseStatfs))
	if len(st) != fuseOutHeader+fuseStatfsOut || binary.LittleEndian.Uint32(st[0:]) != uint32(len(st)) ||
		binary.LittleEndian.Uint64(st[8:]) != 0x1234 || int32(binary.LittleEndian.Uint32(st[4:])) != 0 ||
		binary.LittleEndian.Uint32(st[fuseOutHeader+44:]) != 255 {
		t.Errorf("STATFS answer % x", st)
	}
	for _, op := range []uint32{fuseGetxattr, fuseListxattr} {
		a := answerHere(req(op))
		if len(a) != fuseOutHeader || int32(binary.LittleEndian.Uint32(a[4:])) != -int32(syscall.ENOSYS) || binary.LittleEndian.Uint64(a[8:]) != 0x1234 {
			t.Errorf("op %d: answer % x", op, a)
		}
	}
	for _, op := range []uint32{1, 3, 14, 15, 26, 44} {
		if a := answerHere(req(op)); a != nil {
			t.Errorf("op %d answered in the guest: % x", op, a)
		}
	}
	if answerHere([]byte{1, 2, 3}) != nil {
		t.Error("a short request answered")
	}
}
