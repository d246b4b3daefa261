package all_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpflab/bpflab/harness"
	_ "github.com/bpflab/bpflab/labs/all"
)

// TestEveryLabRegistered: every labs/lab-* directory is a registered lab
// (imported by this package), with its starter and solution in place, and
// every registered lab has its directory.
func TestEveryLabRegistered(t *testing.T) {
	dirs, err := filepath.Glob("../lab-*")
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	for _, l := range harness.Labs() {
		registered[filepath.Base(l.Dir)] = true
		for _, f := range []string{l.Source, l.Solution, "README.md"} {
			if _, err := os.Stat(filepath.Join("..", filepath.Base(l.Dir), f)); err != nil {
				t.Errorf("lab %s: %v", l.ID, err)
			}
		}
		if len(l.Checks) == 0 || l.Run == nil {
			t.Errorf("lab %s declares no checks or no Run", l.ID)
		}
	}
	for _, d := range dirs {
		if !registered[filepath.Base(d)] {
			t.Errorf("%s is not registered: import it in labs/all/all.go", d)
		}
	}
	if len(dirs) != len(harness.Labs()) {
		t.Errorf("%d lab directories, %d registered labs", len(dirs), len(harness.Labs()))
	}
}

// TestREADMEIndex: README.md's lab index is the labs' own metadata
// (bpflab labs --markdown prints it), so the two cannot drift.
func TestREADMEIndex(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := harness.IndexMarkdown(harness.Labs())
	if !strings.Contains(string(b), want) {
		t.Errorf("README.md's lab index is not the labs' metadata: paste 'bin/bpflab labs --markdown' into it:\n%s", want)
	}
	for _, l := range harness.Labs() {
		if l.Hook == "" || l.Teaches == "" || l.MinKernel == "" {
			t.Errorf("lab %s lacks its hook, what it teaches or its minimum kernel", l.ID)
		}
		switch l.Level {
		case "beginner", "intermediate", "advanced":
		default:
			t.Errorf("lab %s: level %q, want beginner, intermediate or advanced", l.ID, l.Level)
		}
	}
}
