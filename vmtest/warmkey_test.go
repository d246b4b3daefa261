package vmtest

import (
	"os"
	"path/filepath"
	"testing"
)

// The saved guest's key follows the files' content, not their identity,
// and a run hashes only the files it has not seen before.
func TestWarmKeyFollowsContent(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		_ = os.Remove(p) // a new inode, as a rebuild makes
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := &Config{
		Kernel:    write("vmlinuz", "kernel"),
		Init:      write("bpflab", "init one"),
		QEMU:      write("qemu", "qemu"),
		Modules:   dir,
		CacheDir:  filepath.Join(dir, "cache"),
		MemoryMiB: 512, CPUs: 1,
	}
	key := func() string {
		t.Helper()
		k, err := warmKey(cfg, "tcg")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	first := key()
	if got := key(); got != first {
		t.Fatalf("same files, key %s then %s", first, got)
	}
	sums := loadSums(WarmDir(cfg.CacheDir))
	if len(sums.known) != 2 {
		t.Fatalf("remembered %d sums, want the kernel's and the init's: %v", len(sums.known), sums.known)
	}
	write("bpflab", "init two")
	if key() == first {
		t.Fatal("the init changed and the key did not")
	}
	write("bpflab", "init one")
	if got := key(); got != first {
		t.Fatalf("the init was rebuilt with the same content: key %s, want %s", got, first)
	}
	cfg.MemoryMiB = 1024
	if key() == first {
		t.Fatal("the guest's memory changed and the key did not")
	}
}
