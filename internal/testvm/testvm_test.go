package testvm

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTB records how a helper ended the test instead of ending it.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

type stop struct{}

func (f *fakeTB) Helper()                      {}
func (f *fakeTB) Skipf(string, ...any)         { f.skipped = true; panic(stop{}) }
func (f *fakeTB) Fatalf(string, ...any)        { f.failed = true; panic(stop{}) }
func (f *fakeTB) Fatal(...any)                 { f.failed = true; panic(stop{}) }
func (f *fakeTB) Logf(format string, a ...any) {}

func run(tb *fakeTB, fn func(testing.TB)) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stop); !ok {
				panic(r)
			}
		}
	}()
	fn(tb)
}

// A missing kernel skips a test, and fails it when BPFLAB_REQUIRE_VM=1.
// (Under -short every test that boots skips before looking: see
// TestShortSkipsBooting.)
func TestMissingKernelSkipsOrFails(t *testing.T) {
	if testing.Short() {
		t.Skip("under -short, Kernels skips before it looks for kernels")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // an empty cache
	for _, require := range []string{"", "1"} {
		t.Setenv(RequireEnv, require)
		tb := &fakeTB{TB: t}
		run(tb, func(tb testing.TB) { Kernels(tb) })
		if require == "1" && (!tb.failed || tb.skipped) {
			t.Errorf("with %s=1: failed=%v skipped=%v, want a failure", RequireEnv, tb.failed, tb.skipped)
		}
		if require == "" && (!tb.skipped || tb.failed) {
			t.Errorf("without %s: failed=%v skipped=%v, want a skip", RequireEnv, tb.failed, tb.skipped)
		}
	}
}

// Under -short, a test that asks for kernels skips, with the command that
// runs it, even with BPFLAB_REQUIRE_VM=1.
func TestShortSkipsBooting(t *testing.T) {
	if !testing.Short() {
		t.Skip("run with -short")
	}
	t.Setenv(RequireEnv, "1")
	tb := &fakeTB{TB: t}
	run(tb, func(tb testing.TB) { Kernels(tb) })
	if !tb.skipped || tb.failed {
		t.Errorf("under -short: skipped=%v failed=%v, want a skip", tb.skipped, tb.failed)
	}
}

// The binary the guest boots as its init is built static, so PID 1 needs
// no loader or libraries from the host.
func TestBinaryIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds bpflab")
	}
	t.Setenv("BPFLAB_BIN", "")
	// Go's build cache stays where it is (it is under XDG_CACHE_HOME
	// unless GOCACHE says otherwise): an empty one rebuilds the standard
	// library and every module, some 45 s of make test.
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	t.Setenv("GOCACHE", strings.TrimSpace(string(out)))
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	p := Binary(t)
	f, err := elf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked", p)
		}
	}
	if _, err := os.Stat(filepath.Dir(p)); err != nil {
		t.Error(err)
	}
}
