package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReportVerdict(t *testing.T) {
	r := &Report{}
	if r.Passed() {
		t.Error("a report without checks passes")
	}
	r.Add(Check{Name: "a", Status: Pass})
	r.Add(Check{Name: "b", Status: Skip})
	if !r.Passed() {
		t.Error("pass and skip do not pass")
	}
	r.Add(Check{Name: "c", Status: Fail, Hint: "do this", Detail: strings.Repeat("line\n", 40)})
	if r.Passed() {
		t.Error("a failed check passes")
	}
	if diff := cmp.Diff([]string{"c"}, r.Failed()); diff != "" {
		t.Error(diff)
	}
	var sb strings.Builder
	r.Print(&sb, false)
	out := sb.String()
	for _, want := range []string{"FAIL  c", "hint: do this", "25 lines above", "FAILED: 1 passed, 1 failed, 1 skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("printed report lacks %q:\n%s", want, out)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.json")
	in := []*Report{{Lab: "lab-1", Kernel: "6.1", Source: "x.c", Checks: []Check{{Name: "a", Status: Fail, Reason: "r", Hint: "h"}}}}
	if err := WriteJSON(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Error(diff)
	}
}

func TestCompileErrorNamesTheLine(t *testing.T) {
	if _, err := exec.LookPath("clang"); err != nil {
		if os.Getenv("BPFLAB_REQUIRE_VM") == "1" {
			t.Fatal("clang is not installed")
		}
		t.Skip("clang is not installed: run 'make test'")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "bad.bpf.c")
	if err := os.WriteFile(src, []byte("int f(void)\n{\n\treturn 0\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Compile(context.Background(), src, filepath.Join(dir, "bad.o"), nil)
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a CompileError", err)
	}
	if first := FirstErrors(ce.Msg, 1); !strings.Contains(first, "bad.bpf.c:3:10: error:") {
		t.Errorf("first error does not name file:line:col:\n%s", first)
	}

	good := filepath.Join(dir, "good.bpf.c")
	if err := os.WriteFile(good, []byte("int x;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Compile(context.Background(), good, filepath.Join(dir, "good.o"), nil); err != nil {
		t.Fatalf("compiling a valid file: %v", err)
	}
}

func TestAttachHint(t *testing.T) {
	mounted := func() bool { return true }
	unmounted := func() bool { return false }
	if h := attachHint(errors.New("neither debugfs nor tracefs are mounted"), unmounted); !strings.Contains(h, "mount -t tracefs") {
		t.Errorf("hint for missing tracefs: %q", h)
	}
	if h := attachHint(fmt.Errorf("perf_event_open: %w", syscall.EACCES), mounted); !strings.Contains(h, "needs root") {
		t.Errorf("hint for a denied attach: %q", h)
	}
	if h := attachHint(fmt.Errorf("perf_event_open: %w", syscall.EINVAL), mounted); h != "" {
		t.Errorf("hint for an unknown cause: %q", h)
	}
}

// TestSeal: a report carries its verdict, counts, the source's SHA-256,
// bpflab's version and a time, so an instructor can prove which file got
// which grade.
func TestSeal(t *testing.T) {
	src := filepath.Join(t.TempDir(), "a.bpf.c")
	if err := os.WriteFile(src, []byte("int x;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Report{Checks: []Check{{Name: "a", Status: Pass}, {Name: "b", Status: Fail}, {Name: "c", Status: Skip}}}
	r.Seal(src)
	if r.Verdict != "FAIL" || r.Counts != (Counts{Pass: 1, Fail: 1, Skip: 1}) {
		t.Errorf("verdict %q counts %+v", r.Verdict, r.Counts)
	}
	if r.SHA256 != "7c725f30854a46033dd94f728ac6b08caf10845993cd3ed48e40079cdb0a76a6" { // sha256sum of "int x;\n"
		t.Errorf("sha256 %q", r.SHA256)
	}
	if r.Version == "" || r.Time.IsZero() {
		t.Errorf("version %q time %v", r.Version, r.Time)
	}
}
