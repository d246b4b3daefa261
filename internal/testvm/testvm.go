// Package testvm gives tests what they need to boot guests: the kernels of
// the matrix and a static bpflab binary to be the guest's init.
//
// Tests that boot are skipped, with the command that runs them, when a
// kernel or QEMU is missing, unless BPFLAB_REQUIRE_VM=1 (set by 'make
// test'), which turns every such skip into a failure.
package testvm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/bpflab/bpflab/vmtest/kernels"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// RequireEnv makes missing VM prerequisites a failure instead of a skip.
const RequireEnv = "BPFLAB_REQUIRE_VM"

// Kernel is a kernel of the matrix that is in the cache.
type Kernel struct {
	Alias string
	Path  string
}

// missing skips or fails the test, naming the command that fixes it.
func missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf(format, args...)
	}
	tb.Skipf(format, args...)
}

// Kernels returns every kernel of the lock, all of which must be cached.
func Kernels(tb testing.TB) []Kernel {
	tb.Helper()
	requireQEMU(tb)
	l, err := kernels.LoadLock(os.Getenv("BPFLAB_LOCK"))
	if err != nil {
		tb.Fatal(err)
	}
	store := &kernels.Store{Dir: kernels.DefaultDir(), Lock: l}
	var out []Kernel
	for _, k := range l.Kernels {
		p, ok := store.Cached(k)
		if !ok {
			missing(tb, "kernel %s is not cached: run 'make test', or 'bpflab kernels fetch all' then this test", k.Alias)
		}
		out = append(out, Kernel{Alias: k.Alias, Path: p})
	}
	return out
}

// Default returns the lock's default kernel.
func Default(tb testing.TB) Kernel {
	tb.Helper()
	l, err := kernels.LoadLock(os.Getenv("BPFLAB_LOCK"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, k := range Kernels(tb) {
		if k.Alias == l.Default {
			return k
		}
	}
	tb.Fatalf("default kernel %s is not in the matrix", l.Default)
	return Kernel{}
}

func requireQEMU(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("boots a guest: skipped under -short; 'make test' runs it (or go test -run '^%s$' without -short)", tb.Name())
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		missing(tb, "qemu-system-x86_64 is not installed: run 'make test' (it installs it) or scripts/deps.sh")
	}
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
	buildOut  []byte
)

// Binary returns a static bpflab binary: $BPFLAB_BIN if set, else one
// built once per test process. Every test that boots a guest calls it, and
// so holds its share of the machine (see [Exclusive]) until it ends.
func Binary(tb testing.TB) string {
	tb.Helper()
	lockGuests(tb, false)
	if p := os.Getenv("BPFLAB_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			tb.Fatal(err)
		}
		return abs
	}
	buildOnce.Do(func() {
		// A cache entry, not a temporary file: rebuilt (quickly, from Go's
		// build cache) by every test process that needs it.
		dir := filepath.Join(kernels.DefaultDir(), "testbin")
		if buildErr = os.MkdirAll(dir, 0o755); buildErr != nil {
			return
		}
		built = filepath.Join(dir, "bpflab")
		tmp := fmt.Sprintf("%s.%d", built, os.Getpid())
		cmd := exec.Command("go", "build", "-o", tmp, "github.com/bpflab/bpflab/cmd/bpflab")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Dir = moduleRoot()
		if buildOut, buildErr = cmd.CombinedOutput(); buildErr != nil {
			os.Remove(tmp)
			return
		}
		// Atomic: a concurrent test process reading the old binary keeps it.
		buildErr = os.Rename(tmp, built)
	})
	if buildErr != nil {
		tb.Fatalf("building bpflab: %v\n%s", buildErr, buildOut)
	}
	return built
}

// moduleRoot is the directory of go.mod, found from this source file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// ModuleRoot is the bpflab source tree's root directory.
func ModuleRoot() string { return moduleRoot() }

// Logger is a logger for vmtest.Config.Log that writes to the test's log at
// debug level: a test that fails shows the QEMU command line of each boot
// (and what else the runner said), as a test that passes shows nothing.
func Logger(tb testing.TB) hclog.Logger {
	tb.Helper()
	return hclog.New(&hclog.LoggerOptions{
		Name:        "vm",
		Level:       hclog.Debug,
		Output:      tbWriter{tb},
		DisableTime: true,
	})
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Tests that boot guests share the machine through a lock file: each
// holds it shared for its lifetime ([Binary] takes it), and a test that
// needs the host's cores to itself holds it exclusively ([Exclusive]).
// The lock is per process and counted, so tests of one process share it.
var guests struct {
	mu                sync.Mutex
	f                 *os.File
	shared, exclusive int
}

// Exclusive waits until no other test process runs guests, and keeps
// them out until tb ends: for a test whose guest needs its vCPUs to run at
// the same time (two guests on two cores take turns).
func Exclusive(tb testing.TB) {
	tb.Helper()
	lockGuests(tb, true)
}

// Busy keeps Exclusive tests out until tb ends, for a test that loads
// the host's cores without booting a guest (compiling Go, say): their
// guests' vCPUs must not take turns with it.
func Busy(tb testing.TB) {
	tb.Helper()
	lockGuests(tb, false)
}

func lockGuests(tb testing.TB, exclusive bool) {
	guests.mu.Lock()
	defer guests.mu.Unlock()
	if guests.f == nil {
		dir := kernels.DefaultDir()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(dir, "guests.lock"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			tb.Fatal(err)
		}
		guests.f = f
	}
	fd := int(guests.f.Fd())
	take := func(how int) {
		if unix.Flock(fd, how|unix.LOCK_NB) == nil {
			return
		}
		if how == unix.LOCK_EX {
			tb.Logf("waiting for other tests' guests to end: this test needs the host's cores to itself")
		}
		if err := unix.Flock(fd, how); err != nil {
			tb.Fatalf("locking %s: %v", guests.f.Name(), err)
		}
	}
	switch {
	case exclusive && guests.exclusive == 0:
		take(unix.LOCK_EX)
	case !exclusive && guests.exclusive == 0 && guests.shared == 0:
		take(unix.LOCK_SH)
	}
	if exclusive {
		guests.exclusive++
	} else {
		guests.shared++
	}
	tb.Cleanup(func() {
		guests.mu.Lock()
		defer guests.mu.Unlock()
		if exclusive {
			guests.exclusive--
		} else {
			guests.shared--
		}
		switch {
		case guests.exclusive == 0 && guests.shared == 0:
			_ = unix.Flock(fd, unix.LOCK_UN)
		case exclusive && guests.exclusive == 0:
			_ = unix.Flock(fd, unix.LOCK_SH) // back to sharing with this process's other tests
		}
	})
}

// CacheDir is the cache that bpflab's commands use by default: tests that
// grade or run through vmtest directly use its saved guests too.
func CacheDir() string { return kernels.DefaultDir() }
