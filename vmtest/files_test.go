package vmtest

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// bigData is n bytes that no two positions of a misplaced chunk would
// match: a seeded random stream.
func bigData(n int) []byte {
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	b := make([]byte, n)
	_, _ = r.Read(b)
	return b
}

// receiveAll reads frames from r as Run does and hands the file frames to
// a receiver; it returns the error that ended the run, if any.
func receiveAll(r io.Reader, allowed []string) error {
	files := newFileReceiver(allowed)
	defer files.abort()
	fr := NewFrameReader(r)
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return files.finish()
		}
		if err != nil {
			return err
		}
		switch f.Type {
		case FrameFile, FrameFileData:
			if err := files.handle(f); err != nil && !errors.Is(err, errNotAsked) {
				return err
			}
		case FrameExit:
			return files.finish()
		}
	}
}

// leftovers lists what is in dir besides the names given.
func leftovers(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string]bool{}
	for _, w := range want {
		keep[w] = true
	}
	var out []string
	for _, e := range ents {
		if !keep[e.Name()] {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestLargeFileThroughPipe sends files of several sizes, the largest a few
// MiB (several frames), with output frames between them, through a pipe
// and checks each arrives whole at its path.
func TestLargeFileThroughPipe(t *testing.T) {
	dir := t.TempDir()
	sizes := map[string]int{
		"cover.out": 3<<20 + 12345,
		"exact":     2 * maxFrame,
		"small":     10,
		"empty":     0,
	}
	pr, pw := io.Pipe()
	go func() {
		fw := &lockedFrameWriter{fw: NewFrameWriter(pw)}
		_ = fw.WriteFrame(FrameHello, nil)
		for name, n := range sizes {
			_ = fw.WriteFrame(FrameStdout, []byte("between files\n"))
			if err := sendFile(fw, filepath.Join(dir, "sub", name), bigData(n)); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		_ = fw.WriteFrame(FrameExit, ExitStatus{}.encode())
		pw.Close()
	}()
	if err := receiveAll(pr, []string{dir}); err != nil {
		t.Fatal(err)
	}
	for name, n := range sizes {
		got, err := os.ReadFile(filepath.Join(dir, "sub", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, bigData(n)) {
			t.Errorf("%s: got %d bytes, want %d, equal to what was sent", name, len(got), n)
		}
	}
	if extra := leftovers(t, filepath.Join(dir, "sub"), "cover.out", "exact", "small", "empty"); len(extra) != 0 {
		t.Errorf("temporary files left behind: %v", extra)
	}
}

// TestInitSendsLargeFile runs the init with a payload that writes a file of
// a few MiB, as a -coverprofile would be, and receives what it sent.
func TestInitSendsLargeFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cover", "c.out")
	const size = 3<<20 + 7
	job := &Job{
		Args:    []string{"/bin/sh", "-c", `mkdir -p "$(dirname "$OUT")" && head -c ` + "3145735" + ` /dev/urandom > "$OUT"`},
		Env:     []string{"OUT=" + out},
		Dir:     "/",
		Collect: []string{filepath.Dir(out)},
	}
	g := newFakeGuest(t, job)
	runInit(g)
	want, err := os.ReadFile(out)
	if err != nil || len(want) != size {
		t.Fatalf("the payload wrote %d bytes (%v), want %d", len(want), err, size)
	}
	// The guest and the host share this file system: remove the file and
	// let the frames bring it back.
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	if err := receiveAll(bytes.NewReader(g.port.Bytes()), job.Collect); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("received %d bytes, want the %d the payload wrote", len(got), len(want))
	}
}

// frames encodes frames as the guest would send them.
func frames(t *testing.T, fs ...Frame) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw := NewFrameWriter(&buf)
	for _, f := range fs {
		if err := fw.WriteFrame(f.Type, f.Data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestFileArrivesWholeOrFails(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	exit := Frame{FrameExit, ExitStatus{}.encode()}
	chunk := bigData(maxFrame)
	for _, tc := range []struct {
		name   string
		frames []Frame
		want   error
	}{
		{"cut short before exit", []Frame{
			{FrameFile, encodeFileStart(p, 3*maxFrame)},
			{FrameFileData, chunk},
			exit,
		}, ErrIncompleteFile},
		{"cut short by the end of the stream", []Frame{
			{FrameFile, encodeFileStart(p, 2*maxFrame)},
			{FrameFileData, chunk},
		}, ErrIncompleteFile},
		{"next file starts early", []Frame{
			{FrameFile, encodeFileStart(p, 2*maxFrame)},
			{FrameFileData, chunk},
			{FrameFile, encodeFileStart(p+"2", 1)},
		}, ErrIncompleteFile},
		{"more data than announced", []Frame{
			{FrameFile, encodeFileStart(p, 5)},
			{FrameFileData, []byte("123456")},
		}, ErrBadFrame},
		{"data without a file", []Frame{
			{FrameFileData, []byte("orphan")},
		}, ErrBadFrame},
		{"old format: no size", []Frame{
			{FrameFile, append([]byte(p), 0, 'x')},
		}, ErrBadFrame},
		{"path that climbs out", []Frame{
			{FrameFile, encodeFileStart(dir+"/../escape", 1)},
		}, ErrBadFrame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := receiveAll(bytes.NewReader(frames(t, tc.frames...)), []string{dir})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if extra := leftovers(t, dir); len(extra) != 0 {
				t.Errorf("left behind after a failed transfer: %v", extra)
			}
		})
	}
}

func TestFileNotAskedForIsDropped(t *testing.T) {
	asked, other := t.TempDir(), t.TempDir()
	err := receiveAll(bytes.NewReader(frames(t,
		Frame{FrameFile, encodeFileStart(filepath.Join(other, "x"), 4)},
		Frame{FrameFileData, []byte("data")},
		Frame{FrameFile, encodeFileStart(filepath.Join(asked, "y"), 2)},
		Frame{FrameFileData, []byte("ok")},
		Frame{FrameExit, ExitStatus{}.encode()},
	)), []string{asked})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(other, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file not asked for was written: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(asked, "y")); err != nil || string(b) != "ok" {
		t.Errorf("the file after it: %q, %v", b, err)
	}
}

// A payload that ran in another root (the host view's) has its files
// sent by their paths there.
func TestSendFilesFromRoot(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"out/a.json", "out/.hidden/b", ".cache/c"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(root)
	for _, r := range []string{root, "."} {
		var buf bytes.Buffer
		fw := NewFrameWriter(&buf)
		for _, p := range []string{"/out", "/.cache/c", "/missing"} {
			if err := sendFiles(fw, r, p); err != nil {
				t.Fatalf("root %s: %v", r, err)
			}
		}
		var names []string
		fr := NewFrameReader(&buf)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				break
			}
			if f.Type == FrameFile {
				name, _, err := decodeFileStart(f.Data)
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, name)
			}
		}
		want := []string{"/out/.hidden/b", "/out/a.json", "/.cache/c"}
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("root %s: names (-want +got):\n%s", r, diff)
		}
	}
}
