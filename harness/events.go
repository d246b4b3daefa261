package harness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/ringbuf"
)

// MaxRecords bounds how many records a [Collector] keeps: a program that
// floods its ring buffer is graded on what it sent first.
const MaxRecords = 1 << 16

// Collector reads a ring buffer map for as long as a scenario runs.
//
// Records are written to the ring buffer during the system call that
// caused them, before it returns; so once every trigger process has
// exited, every record it caused is in the buffer, and [Collector.Stop]
// reads up to that point and no further. No quiet period is needed.
type Collector[T any] struct {
	rd     *ringbuf.Reader
	decode func([]byte) (T, error)
	done   chan struct{}

	mu      sync.Mutex
	records []T
	total   int
	badErr  error
	bad     int
}

// Collect starts reading m, decoding each record with decode. First it
// fills m with the grader's own records and reads them back (see poison),
// so that the fields a program leaves unset show.
func Collect[T any](m *ebpf.Map, decode func([]byte) (T, error)) (*Collector[T], error) {
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		return nil, err
	}
	c := &Collector[T]{rd: rd, decode: decode, done: make(chan struct{})}
	if err := poison(m, rd, c.add); err != nil {
		rd.Close()
		return nil, fmt.Errorf("filling the ring buffer with the grader's records before the scenario: %w", err)
	}
	go c.loop()
	return c, nil
}

func (c *Collector[T]) loop() {
	defer close(c.done)
	var rec ringbuf.Record
	for {
		err := c.rd.ReadInto(&rec)
		if err != nil {
			return // flushed or closed
		}
		c.add(rec.RawSample)
	}
}

// add decodes and keeps one record.
func (c *Collector[T]) add(raw []byte) {
	v, derr := c.decode(raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	switch {
	case derr != nil:
		c.bad++
		if c.badErr == nil {
			c.badErr = derr
		}
	case len(c.records) < MaxRecords:
		c.records = append(c.records, v)
	}
}

// Stats describes a collection.
type Stats struct {
	// Total is how many records arrived; Kept how many were kept.
	Total, Kept int
	// Bad is how many records could not be decoded, and BadErr the first
	// reason.
	Bad    int
	BadErr error
}

// Stop reads what is in the buffer now, stops, and returns the records in
// the order they were written.
func (c *Collector[T]) Stop() ([]T, Stats) {
	_ = c.rd.Flush()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		// Still reading: a program writing without end. Stop here.
	}
	c.rd.Close()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.records, Stats{Total: c.total, Kept: len(c.records), Bad: c.bad, BadErr: c.badErr}
}

// Decode reads a record into T, a Go struct that mirrors a C struct field
// for field (explicit padding as blank fields), little endian.
func Decode[T any](rec []byte) (T, error) {
	var v T
	size := binary.Size(v)
	if len(rec) < size {
		return v, fmt.Errorf("a record of %d bytes, want %d", len(rec), size)
	}
	if _, err := binary.Decode(rec[:size], binary.LittleEndian, &v); err != nil {
		return v, err
	}
	return v, nil
}

// ErrNoLayout is returned by [CheckLayout] when the object's BTF does not
// describe the struct.
var ErrNoLayout = errors.New("the object's BTF does not describe the struct")

// CheckLayout checks that T, read by [Decode], has the layout of the C
// struct named cname in an object's BTF: the same size, and each field of
// T at the offset and with the size of the C member of the same name
// (lower case, or as a `c:"name"` tag says). A lab header that changed
// fails here, loudly, instead of decoding garbage.
func CheckLayout[T any](spec *btf.Spec, cname string) error {
	if spec == nil {
		return ErrNoLayout
	}
	var st *btf.Struct
	if err := spec.TypeByName(cname, &st); err != nil {
		return fmt.Errorf("struct %s: %w", cname, ErrNoLayout)
	}
	var zero T
	t := reflect.TypeOf(zero)
	if got, want := int(st.Size), binary.Size(zero); got != want {
		return fmt.Errorf("struct %s is %d bytes in the object; the grader reads %d", cname, got, want)
	}
	members := map[string]btf.Member{}
	for _, m := range st.Members {
		members[m.Name] = m
	}
	off := 0
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		size := binary.Size(reflect.New(f.Type).Elem().Interface())
		if f.Name == "_" {
			off += size
			continue
		}
		name := f.Tag.Get("c")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m, ok := members[name]
		if !ok {
			return fmt.Errorf("struct %s has no member %s", cname, name)
		}
		msize, err := btf.Sizeof(m.Type)
		if err != nil {
			return fmt.Errorf("struct %s member %s: %w", cname, name, err)
		}
		if int(m.Offset.Bytes()) != off || msize != size {
			return fmt.Errorf("struct %s member %s is %d bytes at offset %d in the object; the grader reads %d bytes at %d",
				cname, name, msize, m.Offset.Bytes(), size, off)
		}
		off += size
	}
	return nil
}

// CString is the text of a fixed-size C char array: up to its first NUL.
func CString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
