package harness

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildC keeps what it built by its inputs: the same inputs again copy
// the kept program; a changed header builds anew.
func TestBuildCKeepsPrograms(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	root := t.TempDir()
	src, include := filepath.Join(root, "lab"), filepath.Join(root, "include")
	for _, d := range []string{src, include} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(include, "answer.h"), "#define ANSWER 42\n")
	write(filepath.Join(src, "prog.c"), "#include \"answer.h\"\nint main(void) { return ANSWER; }\n")
	build := func() int {
		t.Helper()
		out := t.TempDir()
		if err := BuildC(context.Background(), src, out, "prog", "prog.c", "nothing"); err != nil {
			t.Fatal(err)
		}
		err := exec.Command(filepath.Join(out, "prog")).Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatalf("running the program: %v", err)
		return 0
	}
	kept := func() int {
		ents, _ := os.ReadDir(builtDir())
		return len(ents)
	}
	if got := build(); got != 42 {
		t.Fatalf("exit %d, want 42", got)
	}
	if kept() != 1 {
		t.Fatalf("%d programs kept, want 1", kept())
	}
	if got := build(); got != 42 || kept() != 1 {
		t.Fatalf("built again: exit %d, %d kept", got, kept())
	}
	write(filepath.Join(include, "answer.h"), "#define ANSWER 7\n")
	if got := build(); got != 7 {
		t.Fatalf("the header changed: exit %d, want 7 (a stale program)", got)
	}
	if kept() != 2 {
		t.Fatalf("%d programs kept, want 2", kept())
	}
}
