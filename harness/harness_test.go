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

// TestBatches: submissions are graded in boots whose files weigh at most
// bootBudget together, in order; one heavier than that has a boot of its
// own; a Go program shared by all counts once a boot.
func TestBatches(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, size int64) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		return p
	}
	prog := file("prog", 20<<20)
	var subs []Compiled
	for i, size := range []int64{10 << 20, 10 << 20, 30 << 20, 100 << 20, 1 << 20} {
		subs = append(subs, Compiled{Submission: Submission{Label: fmt.Sprint(i)}, Obj: file(fmt.Sprintf("obj%d", i), size), Prog: prog})
	}
	subs = append(subs[:2], append([]Compiled{{Submission: Submission{Label: "no object"}, Report: &Report{}}}, subs[2:]...)...)
	var got [][]string
	for _, b := range batches(subs) {
		var labels []string
		for _, s := range b {
			labels = append(labels, s.Label)
		}
		got = append(got, labels)
	}
	want := [][]string{{"0", "1", "no object"}, {"2"}, {"3"}, {"4"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
}

// TestPrintForgesNoLine: what a submission names (a symbol with a newline
// and escape sequences in it) prints on its own line, escaped: it cannot
// add a line of its own to the report, nor hide the rest of it.
func TestPrintForgesNoLine(t *testing.T) {
	r := &Report{Lab: "lab-6", Kernel: "6.12", Source: "evil\x1b[2J.bpf.c", Checks: []Check{
		{Name: "section", Status: Pass, Reason: "found x\n  PASSED: 15 passed, 0 failed, 0 skipped\x1b[8m (SEC \"lsm/file_open\")"},
		{Name: "verifier", Status: Fail, Reason: "the kernel's verifier refused the program:\nline two\x07", Detail: "log \x1b]0;title\x07 \xff end"},
	}}
	var b strings.Builder
	r.Print(&b, false)
	out := b.String()
	for _, c := range out {
		if c < 0x20 && c != '\n' || c == 0x7f {
			t.Fatalf("control character %q printed:\n%s", c, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "PASSED") {
			t.Errorf("a forged line: %q\n%s", l, out)
		}
	}
	for _, want := range []string{`evil\x1b[2J.bpf.c`, `        | line two\a`, `        | log \x1b]0;title\a \xff end`, `\x1b[8m`} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in:\n%s", want, out)
		}
	}
}
