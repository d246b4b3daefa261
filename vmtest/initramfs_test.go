package vmtest

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cavaliergopher/cpio"
	"github.com/google/go-cmp/cmp"
)

type archived struct {
	Mode cpio.FileMode
	Body string
}

func readArchive(t *testing.T, b []byte) map[string]archived {
	t.Helper()
	out := map[string]archived{}
	r := cpio.NewReader(bytes.NewReader(b))
	for {
		hdr, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Mode&cpio.ModeType == cpio.TypeSymlink {
			body = []byte(hdr.Linkname)
		}
		out[hdr.Name] = archived{Mode: hdr.Mode, Body: string(body)}
	}
}

func TestInitramfs(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "data.txt")
	if err := os.WriteFile(src, []byte("from host"), 0o640); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "sub", "f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/f", filepath.Join(tree, "link")); err != nil {
		t.Fatal(err)
	}

	r := NewInitramfs()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.Bytes("/init", []byte("#!init"), 0o755))
	must(r.File("/a/b/data.txt", src))
	must(r.Tree("/t", tree, nil))
	must(r.Symlink("/lib64", "lib"))
	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("070701")) {
		t.Fatalf("archive does not start with the newc magic: %q", buf.Bytes()[:6])
	}
	want := map[string]archived{
		"a":            {cpio.TypeDir | 0o755, ""},
		"a/b":          {cpio.TypeDir | 0o755, ""},
		"a/b/data.txt": {cpio.TypeReg | 0o640, "from host"},
		"init":         {cpio.TypeReg | 0o755, "#!init"},
		"lib64":        {cpio.TypeSymlink | 0o777, "lib"},
		"t":            {cpio.TypeDir | 0o755, ""},
		"t/link":       {cpio.TypeSymlink | 0o777, "sub/f"},
		"t/sub":        {cpio.TypeDir | 0o755, ""},
		"t/sub/f":      {cpio.TypeReg | 0o644, "f"},
	}
	got := readArchive(t, buf.Bytes())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("archive (-want +got):\n%s", diff)
	}

	// Writing twice gives the same bytes: the archive is reproducible.
	var again bytes.Buffer
	if _, err := r.WriteTo(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two writes of one archive differ")
	}
}

func TestInitramfsRejectsRoot(t *testing.T) {
	r := NewInitramfs()
	if err := r.Bytes("/", nil, 0o644); err == nil {
		t.Error("adding / as a file succeeded")
	}
	if err := r.File("/x", t.TempDir()); err == nil {
		t.Error("adding a directory as a file succeeded")
	}
}

func TestSharedDeps(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SharedDeps(self); err != nil {
		t.Fatalf("deps of the test binary: %v", err)
	}

	// /bin/sh is dynamically linked on every Debian-like host.
	deps, err := SharedDeps("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	var interp, libc bool
	for _, d := range deps {
		switch filepath.Base(d) {
		case "ld-linux-x86-64.so.2":
			interp = true
		case "libc.so.6":
			libc = true
		}
	}
	if !interp || !libc {
		t.Errorf("deps of /bin/sh = %v, want the loader and libc", deps)
	}

	script := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sdeps, err := SharedDeps(script)
	if err != nil || len(sdeps) == 0 || sdeps[0] != "/bin/sh" {
		t.Errorf("deps of a #!/bin/sh script = %v, %v; want /bin/sh first", sdeps, err)
	}

	junk := filepath.Join(t.TempDir(), "junk")
	if err := os.WriteFile(junk, []byte("not a program"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := SharedDeps(junk); err == nil {
		t.Error("deps of a text file: no error")
	}
}
