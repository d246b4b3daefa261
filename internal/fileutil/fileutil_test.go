package fileutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCopy(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(src, []byte("content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte("longer old content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Copy(src, dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "content" {
		t.Errorf("copy holds %q, want %q", b, "content")
	}
	if err := Copy(filepath.Join(dir, "missing"), dst, 0o755); !os.IsNotExist(err) {
		t.Errorf("copying a missing file: %v, want does not exist", err)
	}
}
