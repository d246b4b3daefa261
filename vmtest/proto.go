package vmtest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// FrameType says what a [Frame] carries.
type FrameType uint8

const (
	// FrameHello is the first frame of every boot: the init is running.
	FrameHello FrameType = iota + 1
	// FrameStdout and FrameStderr carry a chunk of the payload's output.
	FrameStdout
	FrameStderr
	// FrameFile starts a file the payload wrote: its absolute path, a NUL,
	// and its size in bytes (8 bytes, little-endian). Its contents follow
	// in FrameFileData frames (see files.go).
	FrameFile
	// FrameExit carries the payload's exit status (see [ExitStatus]).
	FrameExit
	// FrameError carries a message from the init when the payload could
	// not be started: a class byte, then text.
	FrameError
	// FrameFileData carries the next piece of the file the last FrameFile
	// started.
	FrameFileData
	// FrameReady says a guest booted for a snapshot is waiting for its job
	// on the virtio-serial port (see warm.go).
	FrameReady
	// FrameJob is the host's first frame to a waiting guest: the host's
	// time and fresh entropy (see [jobHeader]). The job's files follow as
	// a cpio archive, which ends itself.
	FrameJob
	// FrameWake is the host's first frame to a guest it restored: the
	// guest answers FrameReady, so the job's header carries the time of
	// a guest that is running, not of one still being loaded.
	FrameWake
	// FrameFuse carries one FUSE request from the guest's kernel, or the
	// host's answer to one, on the host view's port (see hostview.go).
	FrameFuse
)

func (t FrameType) String() string {
	switch t {
	case FrameHello:
		return "hello"
	case FrameStdout:
		return "stdout"
	case FrameStderr:
		return "stderr"
	case FrameFile:
		return "file"
	case FrameExit:
		return "exit"
	case FrameError:
		return "error"
	case FrameFileData:
		return "file data"
	case FrameReady:
		return "ready"
	case FrameJob:
		return "job"
	case FrameWake:
		return "wake"
	case FrameFuse:
		return "fuse"
	}
	return fmt.Sprintf("frame(%d)", uint8(t))
}

// frameMagic starts every frame, so a stray byte on the port is detected
// rather than misread as a length.
const frameMagic = 0xB7

// maxFrame bounds one frame's body; longer output is split.
const maxFrame = 1 << 20

// Frame is one message on the guest-to-host channel.
type Frame struct {
	Type FrameType
	Data []byte
}

// ErrBadFrame is returned when the channel carries bytes that are not a frame.
var ErrBadFrame = errors.New("malformed frame on the guest channel")

// FrameWriter writes frames. It is not safe for concurrent use.
type FrameWriter struct {
	w io.Writer
}

// NewFrameWriter returns a writer of frames to w.
func NewFrameWriter(w io.Writer) *FrameWriter { return &FrameWriter{w: w} }

// ErrFrameTooLong is returned for a frame that must not be split (every
// type but stdout, stderr and file data) and is over the frame limit.
var ErrFrameTooLong = errors.New("frame body over the limit")

// splittable says whether a body of this type may go as several frames:
// only streams, whose pieces the reader joins in order.
func splittable(t FrameType) bool {
	return t == FrameStdout || t == FrameStderr || t == FrameFileData
}

// WriteFrame writes one frame. A stream's body (stdout, stderr, file data)
// larger than the frame limit goes as consecutive frames of the same type;
// any other body over the limit is refused with ErrFrameTooLong.
func (fw *FrameWriter) WriteFrame(t FrameType, data []byte) error {
	if len(data) > maxFrame && !splittable(t) {
		return fmt.Errorf("%w: %v frame of %d bytes", ErrFrameTooLong, t, len(data))
	}
	for {
		chunk := data
		if len(chunk) > maxFrame {
			chunk = chunk[:maxFrame]
		}
		var hdr [6]byte
		hdr[0] = frameMagic
		hdr[1] = byte(t)
		binary.LittleEndian.PutUint32(hdr[2:], uint32(len(chunk)))
		if _, err := fw.w.Write(append(hdr[:], chunk...)); err != nil {
			return err
		}
		data = data[len(chunk):]
		if len(data) == 0 {
			return nil
		}
	}
}

// FrameReader reads frames.
type FrameReader struct {
	r *bufio.Reader
}

// NewFrameReader returns a reader of frames from r.
func NewFrameReader(r io.Reader) *FrameReader { return &FrameReader{r: bufio.NewReader(r)} }

// ReadFrame returns the next frame, or io.EOF at a clean end of stream.
func (fr *FrameReader) ReadFrame() (Frame, error) { return readFrame(fr.r) }

// readFrame reads one frame from r and not a byte more, so what follows
// the frame on a stream can be read by someone else.
func readFrame(r io.Reader) (Frame, error) {
	var hdr [6]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Frame{}, fmt.Errorf("%w: truncated header", ErrBadFrame)
		}
		return Frame{}, err
	}
	if hdr[0] != frameMagic {
		return Frame{}, fmt.Errorf("%w: bad magic %#x", ErrBadFrame, hdr[0])
	}
	n := binary.LittleEndian.Uint32(hdr[2:])
	if n > maxFrame {
		return Frame{}, fmt.Errorf("%w: length %d over limit", ErrBadFrame, n)
	}
	f := Frame{Type: FrameType(hdr[1]), Data: make([]byte, n)}
	if _, err := io.ReadFull(r, f.Data); err != nil {
		return Frame{}, fmt.Errorf("%w: truncated body: %v", ErrBadFrame, err)
	}
	return f, nil
}

// ExitStatus is how the payload ended.
type ExitStatus struct {
	Code   int // exit code, valid when Signal is 0
	Signal int // terminating signal, 0 if it exited
}

func (s ExitStatus) encode() []byte {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(int32(s.Code)))
	binary.LittleEndian.PutUint32(b[4:], uint32(s.Signal))
	return b[:]
}

func decodeExitStatus(b []byte) (ExitStatus, error) {
	if len(b) != 8 {
		return ExitStatus{}, fmt.Errorf("%w: exit frame of %d bytes", ErrBadFrame, len(b))
	}
	return ExitStatus{
		Code:   int(int32(binary.LittleEndian.Uint32(b[0:]))),
		Signal: int(binary.LittleEndian.Uint32(b[4:])),
	}, nil
}

// ShellCode is the status as a shell reports it: the code, or 128+signal.
func (s ExitStatus) ShellCode() int {
	if s.Signal != 0 {
		return 128 + s.Signal
	}
	return s.Code
}

// jobHeader is the body of a [FrameJob]: what a guest restored from a
// snapshot must not keep from the moment it was saved.
type jobHeader struct {
	// Time is the host's wall clock, in nanoseconds since the epoch.
	Time int64
	// Seed is mixed into the guest's random pool, which is then reseeded,
	// so guests restored from one snapshot draw different numbers.
	Seed [32]byte
	// View says the run uses the host view: the guest starts mounting it
	// while the job's files arrive.
	View bool
}

func (h jobHeader) encode() []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(h.Time))
	b = append(b, h.Seed[:]...)
	var flags byte
	if h.View {
		flags = 1
	}
	return append(b, flags)
}

func decodeJobHeader(b []byte) (jobHeader, error) {
	var h jobHeader
	if len(b) != 8+len(h.Seed)+1 {
		return h, fmt.Errorf("%w: job frame of %d bytes", ErrBadFrame, len(b))
	}
	h.Time = int64(binary.LittleEndian.Uint64(b))
	copy(h.Seed[:], b[8:])
	h.View = b[8+len(h.Seed)]&1 != 0
	return h, nil
}
