package vmtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Files travel from the guest to the host as a [FrameFile] that names the
// file and gives its size, then its contents in [FrameFileData] frames, in
// order, each at most the frame limit (1 MiB): a file of any size arrives
// whole. The host writes the contents to a temporary file beside the
// destination and renames it into place once the size given has arrived,
// so a file is either complete at its path or not there. A file still
// incomplete when the next one starts or when the exit status comes, data
// with no file started, or more data than announced fail the run
// ([ErrIncompleteFile], [ErrBadFrame]).

// ErrIncompleteFile is returned when a file sent back by the guest did not
// arrive whole.
var ErrIncompleteFile = errors.New("a file from the guest arrived incomplete")

// errNotAsked is returned for a file outside every collected path. It is
// dropped (its data is read and discarded); the run goes on.
var errNotAsked = errors.New("not asked for")

// encodeFileStart is the body of a FrameFile: the path, a NUL, and the size
// in bytes as 8 bytes little-endian.
func encodeFileStart(name string, size int64) []byte {
	b := append([]byte(name), 0)
	return binary.LittleEndian.AppendUint64(b, uint64(size))
}

// decodeFileStart splits a FrameFile body into its path and size.
func decodeFileStart(b []byte) (string, int64, error) {
	name, rest, ok := strings.Cut(string(b), "\x00")
	if !ok || !filepath.IsAbs(name) || filepath.Clean(name) != name {
		return "", 0, fmt.Errorf("%w: file frame without a clean absolute path", ErrBadFrame)
	}
	if len(rest) != 8 {
		return "", 0, fmt.Errorf("%w: file frame for %s without its size", ErrBadFrame, name)
	}
	size := binary.LittleEndian.Uint64([]byte(rest))
	if size > 1<<62 {
		return "", 0, fmt.Errorf("%w: file frame for %s with size %d", ErrBadFrame, name, size)
	}
	return name, int64(size), nil
}

// frameSender is what sends frames from the guest (a *lockedFrameWriter).
type frameSender interface {
	WriteFrame(t FrameType, data []byte) error
}

// sendFile sends one file: its start frame, then its contents, which
// WriteFrame splits into frames of at most the limit.
func sendFile(fw frameSender, name string, data []byte) error {
	if err := fw.WriteFrame(FrameFile, encodeFileStart(name, int64(len(data)))); err != nil {
		return err
	}
	if len(data) == 0 {
		return nil
	}
	return fw.WriteFrame(FrameFileData, data)
}

// sendFiles sends the file at p, or every regular file below it, as the
// payload saw them in root ("" for the guest's own), by their paths there.
func sendFiles(fw frameSender, root, p string) error {
	return filepath.WalkDir(filepath.Join(root, p), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // the payload did not write it
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		name := path
		if root != "" {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			name = "/" + rel
		}
		return sendFile(fw, name, data)
	})
}

// fileReceiver puts the files the guest sends back in place on the host,
// only below the paths the job collects. It is fed the frames in order.
type fileReceiver struct {
	allowed []string
	cur     *incoming
}

// incoming is the file being received.
type incoming struct {
	name      string
	size, got int64
	// tmp is the temporary file beside name; nil when the file is dropped.
	tmp *os.File
}

func newFileReceiver(allowed []string) *fileReceiver {
	return &fileReceiver{allowed: allowed}
}

// handle takes a FrameFile or FrameFileData frame.
func (r *fileReceiver) handle(f Frame) error {
	switch f.Type {
	case FrameFile:
		return r.start(f.Data)
	case FrameFileData:
		return r.data(f.Data)
	}
	return fmt.Errorf("%w: %v frame is not part of a file", ErrBadFrame, f.Type)
}

// start begins a file from a FrameFile body. A file outside the collected
// paths returns an error wrapping errNotAsked; its data is then discarded.
func (r *fileReceiver) start(body []byte) error {
	if err := r.incomplete(); err != nil {
		return err
	}
	name, size, err := decodeFileStart(body)
	if err != nil {
		return err
	}
	in := &incoming{name: name, size: size}
	r.cur = in
	asked := false
	for _, a := range r.allowed {
		if isUnder(name, a) {
			asked = true
			break
		}
	}
	if !asked {
		_ = r.completeIfDone()
		return fmt.Errorf("%s: %w", name, errNotAsked)
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		r.cur = nil
		return fmt.Errorf("receiving %s: %w", name, err)
	}
	if in.tmp, err = os.CreateTemp(filepath.Dir(name), ".bpflab-receiving-*"); err != nil {
		r.cur = nil
		return fmt.Errorf("receiving %s: %w", name, err)
	}
	return r.completeIfDone()
}

// data adds a FrameFileData body to the file being received.
func (r *fileReceiver) data(body []byte) error {
	in := r.cur
	if in == nil {
		return fmt.Errorf("%w: file data with no file started", ErrBadFrame)
	}
	if in.got+int64(len(body)) > in.size {
		r.abort()
		return fmt.Errorf("%w: %s: more data than its size of %d bytes", ErrBadFrame, in.name, in.size)
	}
	if in.tmp != nil {
		if _, err := in.tmp.Write(body); err != nil {
			r.abort()
			return fmt.Errorf("receiving %s: %w", in.name, err)
		}
	}
	in.got += int64(len(body))
	return r.completeIfDone()
}

// completeIfDone renames the current file into place once all of it has
// arrived.
func (r *fileReceiver) completeIfDone() error {
	in := r.cur
	if in.got < in.size {
		return nil
	}
	r.cur = nil
	if in.tmp == nil {
		return nil
	}
	tmp := in.tmp.Name()
	err := in.tmp.Close()
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, in.name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("receiving %s: %w", in.name, err)
	}
	return nil
}

// finish is called when the guest reports the payload's exit: every file
// must have arrived whole.
func (r *fileReceiver) finish() error {
	return r.incomplete()
}

// incomplete returns ErrIncompleteFile for a file started and not finished,
// and removes what arrived of it.
func (r *fileReceiver) incomplete() error {
	in := r.cur
	if in == nil {
		return nil
	}
	r.abort()
	return fmt.Errorf("%w: %s: %d of %d bytes", ErrIncompleteFile, in.name, in.got, in.size)
}

// abort drops the file being received, if any.
func (r *fileReceiver) abort() {
	if r.cur != nil && r.cur.tmp != nil {
		r.cur.tmp.Close()
		os.Remove(r.cur.tmp.Name())
	}
	r.cur = nil
}
