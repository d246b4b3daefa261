package vmtest

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	fw := NewFrameWriter(&buf)
	big := bytes.Repeat([]byte("x"), maxFrame+10)
	want := []Frame{
		{FrameHello, []byte{}},
		{FrameStdout, []byte("line\n")},
		{FrameStderr, []byte("err\r\n\x00\xff")},
		{FrameExit, ExitStatus{Code: 3}.encode()},
	}
	for _, f := range want {
		if err := fw.WriteFrame(f.Type, f.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.WriteFrame(FrameStdout, big); err != nil {
		t.Fatal(err)
	}
	fr := NewFrameReader(&buf)
	var got []Frame
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
	if len(got) != len(want)+2 {
		t.Fatalf("got %d frames, want %d (the large one split in two)", len(got), len(want)+2)
	}
	if diff := cmp.Diff(want, got[:len(want)]); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
	if n := len(got[4].Data) + len(got[5].Data); n != len(big) {
		t.Errorf("split frame carries %d bytes, want %d", n, len(big))
	}
}

func TestWriteFrameRefusesToSplitMessages(t *testing.T) {
	var buf bytes.Buffer
	fw := NewFrameWriter(&buf)
	big := make([]byte, maxFrame+1)
	for _, ft := range []FrameType{FrameFile, FrameExit, FrameError, FrameHello} {
		if err := fw.WriteFrame(ft, big); !errors.Is(err, ErrFrameTooLong) {
			t.Errorf("%v frame over the limit: got %v, want ErrFrameTooLong", ft, err)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes written for refused frames", buf.Len())
	}
	for _, ft := range []FrameType{FrameStdout, FrameStderr, FrameFileData} {
		if err := fw.WriteFrame(ft, big); err != nil {
			t.Errorf("%v frame over the limit: %v, want it split", ft, err)
		}
	}
}

func TestFrameReaderRejectsGarbage(t *testing.T) {
	for name, in := range map[string][]byte{
		"bad magic":        []byte("hello world"),
		"truncated":        {frameMagic, byte(FrameStdout), 10, 0, 0, 0, 'a'},
		"too long":         {frameMagic, byte(FrameStdout), 0xff, 0xff, 0xff, 0x7f},
		"truncated header": {frameMagic, 1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewFrameReader(bytes.NewReader(in)).ReadFrame()
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("got %v, want ErrBadFrame", err)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	for _, s := range []ExitStatus{{Code: 0}, {Code: 3}, {Code: 255}, {Signal: 9}} {
		got, err := decodeExitStatus(s.encode())
		if err != nil || got != s {
			t.Errorf("round trip of %+v: got %+v, %v", s, got, err)
		}
	}
	if got := (ExitStatus{Signal: 9}).ShellCode(); got != 137 {
		t.Errorf("SIGKILL shell code = %d, want 137", got)
	}
	if _, err := decodeExitStatus([]byte{1}); !errors.Is(err, ErrBadFrame) {
		t.Errorf("short exit frame: got %v, want ErrBadFrame", err)
	}
}

// TestBootOops: only a kernel oops before the init started is booted
// again; a panic the job caused, or one every boot of the image has, is not.
func TestBootOops(t *testing.T) {
	oops := &Error{Class: ClassPanic, Console: []string{"Oops: int3: 0000 [#1] SMP NOPTI", "Kernel panic - not syncing: Fatal exception in interrupt"}}
	noInit := &Error{Class: ClassPanic, Console: []string{"Kernel panic - not syncing: No working init found."}}
	for _, c := range []struct {
		res  *Result
		err  error
		want bool
	}{
		{&Result{}, oops, true},
		{nil, oops, true},
		{&Result{Boot: time.Second}, oops, false},
		{&Result{}, noInit, false},
		{&Result{}, &Error{Class: ClassTimeout}, false},
		{&Result{}, nil, false},
	} {
		if got := bootOops(c.res, c.err); got != c.want {
			t.Errorf("bootOops(%+v, %v) = %v, want %v", c.res, c.err, got, c.want)
		}
	}
}
