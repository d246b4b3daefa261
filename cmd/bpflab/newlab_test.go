package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpflab/bpflab/internal/fileutil"
	"github.com/bpflab/bpflab/internal/testvm"
)

// copyTree copies the source tree's tracked files into a new directory.
func copyTree(t *testing.T) string {
	t.Helper()
	root := testvm.ModuleRoot()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("git ls-files: %v (the test copies the tracked tree)", err)
	}
	dst := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		fi, err := os.Lstat(filepath.Join(root, f))
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree, or a link
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := fileutil.Copy(filepath.Join(root, f), filepath.Join(dst, f), fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestNewLab makes a lab with 'bpflab new-lab' in a copy of the tree: it
// builds, vets, is registered and indexed; and, booting guests, its
// solution passes and its starter fails on every kernel of the matrix.
func TestNewLab(t *testing.T) {
	if !testing.Short() {
		// Building bpflab twice over takes the host's cores: not while
		// lab 5's guest needs them.
		testvm.Busy(t)
	}
	tree := copyTree(t)
	t.Setenv("BPFLAB_ROOT", tree)
	var out bytes.Buffer
	if err := cmdNewLab([]string{"lab-99", "--title", "A lab made by the test"}, &out); err != nil {
		t.Fatal(err)
	}
	if err := cmdNewLab([]string{"lab-99"}, &out); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("making it twice: %v", err)
	}
	if err := cmdNewLab([]string{"Lab 9"}, &out); err == nil {
		t.Error("a name with a blank was taken")
	}
	goCmd := func(args ...string) {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = tree
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	goCmd("vet", "./labs/lab-99/", "./labs/all/")
	// Registered (labs/all's test finds every directory) and in README's
	// index (labs/all's test compares it with the labs' metadata).
	goCmd("test", "-short", "-count=1", "./labs/all/", "./labs/lab-99/")
	if testing.Short() {
		return
	}
	bin := filepath.Join(tree, "bin", "bpflab")
	goCmd("build", "-trimpath", "-o", bin, "./cmd/bpflab")
	testvm.Kernels(t) // the matrix is cached, or the test says how
	cmd := exec.Command("go", "test", "-count=1", "./labs/lab-99/")
	cmd.Dir = tree
	// Cold boots: saving a guest of every kernel for a binary no later
	// run uses would cost a save each and crowd the cache's bound.
	cmd.Env = append(os.Environ(), "BPFLAB_REQUIRE_VM=1", "BPFLAB_BIN="+bin, "BPFLAB_COLD=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the new lab's matrix: %v\n%s", err, b)
	}
}
