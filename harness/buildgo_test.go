package harness

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpflab/bpflab/internal/testvm"
)

// TestBuildGoOutsideTheTree builds a Go program from a directory outside
// the source tree (a student's, in a class) against the tree's packages;
// a file that does not compile, or that imports a module bpflab does not
// require, is a CompileError that says so.
func TestBuildGoOutsideTheTree(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go")
	}
	if !testing.Short() {
		testvm.Busy(t) // go build takes the host's cores
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(root, "labs", "lab-7", "solution", "enrich")
	for _, f := range []string{"main.go", "pods.go", "pods_test.go"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "enrich")
	if err := BuildGo(context.Background(), root, dir, out); err != nil {
		t.Fatalf("building %s: %v", dir, err)
	}
	if b, err := exec.Command(out, "-h").CombinedOutput(); !strings.Contains(string(b), "-root") {
		t.Errorf("the program built does not run: %v\n%s", err, b)
	}

	for _, tc := range []struct{ file, want string }{
		{"package main\n\nfunc main() { x := }\n", "broken.go:3"},
		{"package main\n\nimport _ \"example.com/evil\"\n\nfunc main() {}\n", "example.com/evil"},
		// Data for a binary too large for the guest: refused unbuilt.
		{"package main\n\nvar data = \"" + strings.Repeat("x", maxGoSource) + "\"\n\nfunc main() { println(len(data)) }\n", "KiB a submission may have"},
	} {
		bad := t.TempDir()
		if err := os.WriteFile(filepath.Join(bad, "broken.go"), []byte(tc.file), 0o644); err != nil {
			t.Fatal(err)
		}
		err := BuildGo(context.Background(), root, bad, filepath.Join(t.TempDir(), "x"))
		var ce *CompileError
		if !errors.As(err, &ce) || !strings.Contains(ce.Msg, tc.want) {
			t.Errorf("%.80q: got %v, want a CompileError naming %s", tc.file, err, tc.want)
		}
	}
}
