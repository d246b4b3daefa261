package harness

import (
	"bytes"
	"errors"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
)

// Events reads records from a ring buffer map.
type Events struct {
	rd *ringbuf.Reader
}

// OpenEvents opens a reader on a ring buffer map.
func OpenEvents(m *ebpf.Map) (*Events, error) {
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		return nil, err
	}
	return &Events{rd: rd}, nil
}

// Close closes the reader.
func (e *Events) Close() error { return e.rd.Close() }

// Collect returns the records that arrive until no record has come for
// quiet. A record written during a system call is in the buffer when the
// call returns, so a short quiet period after the trigger exits is enough.
// limit bounds the count, so a program that floods cannot stall grading.
func (e *Events) Collect(quiet time.Duration, limit int) ([][]byte, error) {
	var out [][]byte
	for len(out) < limit {
		e.rd.SetDeadline(time.Now().Add(quiet))
		rec, err := e.rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, append([]byte(nil), rec.RawSample...))
	}
	return out, nil
}

// Drain discards what is in the buffer, so the next check sees only the
// records its own trigger caused.
func (e *Events) Drain() {
	_, _ = e.Collect(20*time.Millisecond, 1<<16)
}

// CString is the text of a fixed-size C char array: up to its first NUL.
func CString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
