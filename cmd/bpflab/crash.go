package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bpflab/bpflab/internal/fileutil"
	"github.com/bpflab/bpflab/vmtest"
)

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.b...)
}

// keptCrashes bounds the crash directories kept; older ones are removed.
const keptCrashes = 20

// crashed reports whether a run is worth keeping for a post-mortem: the
// guest failed (panic, timeout, out of memory, boot hang), the program was
// killed by a signal, or a Go program panicked.
func crashed(err error, res *vmtest.Result, stderr []byte) bool {
	if err != nil {
		switch vmtest.ClassOf(err) {
		case vmtest.ClassPanic, vmtest.ClassTimeout, vmtest.ClassOOM, vmtest.ClassBootHang:
			return true
		}
		return false
	}
	if res == nil {
		return false
	}
	if res.Status.Signal != 0 {
		return true
	}
	return res.Status.Code == 2 && strings.Contains(string(stderr), "panic: ")
}

// keepCrash copies the program and what it printed into a new directory
// under the cache ($BPFLAB_CRASH_DIR overrides) and returns its path.
func keepCrash(cacheDir, kernel string, argv []string, repro string, stdout, stderr []byte, console []string) (string, error) {
	root := os.Getenv("BPFLAB_CRASH_DIR")
	if root == "" {
		root = filepath.Join(cacheDir, "crashes")
	}
	name := fmt.Sprintf("%s-%s-%s", time.Now().Format("20060102-150405.000"), filepath.Base(argv[0]), kernel)
	dir := filepath.Join(root, strings.ReplaceAll(name, "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	kept := filepath.Join(dir, filepath.Base(argv[0]))
	if err := fileutil.Copy(argv[0], kept, 0o755); err != nil {
		return dir, err
	}
	// The original may live in a build directory that is about to go.
	repro = strings.Replace(repro, argv[0], kept, 1)
	files := map[string][]byte{
		"stdout.txt":  stdout,
		"stderr.txt":  stderr,
		"console.txt": []byte(strings.Join(console, "\n") + "\n"),
		"command.txt": []byte(repro + "\n"),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return dir, err
		}
	}
	pruneCrashes(root)
	return dir, nil
}

func pruneCrashes(root string) {
	ents, err := os.ReadDir(root)
	if err != nil || len(ents) <= keptCrashes {
		return
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names) // timestamps first: oldest first
	for _, n := range names[:len(names)-keptCrashes] {
		os.RemoveAll(filepath.Join(root, n))
	}
}
