package main

import (
	"archive/zip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpflab/bpflab/internal/testvm"
)

// TestGoInstall installs bpflab as a user does, with 'go install
// github.com/bpflab/bpflab/cmd/bpflab@VERSION', from a module proxy on
// disk that serves this tree as that version (its dependencies come from
// the machine's module cache or its GOPROXY), into an empty module cache. From a directory
// outside any checkout, the installed command grades lab 1's reference in
// a guest with the files 'go install' left in the module cache; with the
// cache gone it says what it needs, and exits 64.
func TestGoInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds bpflab from a module proxy and boots a guest: run without -short")
	}
	k := testvm.Default(t)
	testvm.Busy(t)
	const version = "v0.99.0"
	tree := copyTree(t)
	proxy := t.TempDir()
	at := filepath.Join(proxy, filepath.FromSlash(modulePath), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(tree, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"list":            version + "\n",
		version + ".info": `{"Version":"` + version + `","Time":"2026-11-26T00:00:00Z"}`,
		version + ".mod":  string(mod),
	} {
		if err := os.WriteFile(filepath.Join(at, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeModuleZip(t, tree, filepath.Join(at, version+".zip"), modulePath+"@"+version)

	goenv, err := exec.Command("go", "env", "GOPROXY", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	// The dependencies come from this machine's module cache when it has
	// them (a module cache's download directory is a proxy too), else from
	// its GOPROXY.
	lines := strings.Split(strings.TrimSpace(string(goenv)), "\n")
	goproxy := "file://" + proxy + ",file://" + filepath.Join(lines[1], "cache", "download") + "," + lines[0]
	home := t.TempDir()
	cache, bin := filepath.Join(home, "mod"), filepath.Join(home, "bin")
	env := append(os.Environ(),
		"GOPROXY="+goproxy,
		"GONOSUMDB="+modulePath, "GOMODCACHE="+cache, "GOBIN="+bin,
		"GOFLAGS=-modcacherw -trimpath", "GOTOOLCHAIN=local", "GOWORK=off")
	install := exec.Command("go", "install", modulePath+"/cmd/bpflab@"+version)
	install.Dir, install.Env = home, env
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}

	grade := func(env []string) (string, int) {
		cmd := exec.Command(filepath.Join(bin, "bpflab"), "grade", "lab-1", "--solution", "--kernel", k.Alias)
		cmd.Dir, cmd.Env = home, env
		return combinedOutput(t, cmd)
	}
	if out, code := grade(env); code != 0 || !strings.Contains(out, "PASSED") {
		t.Errorf("the installed bpflab grading lab 1's reference outside a checkout: exit %d\n%s", code, out)
	}
	if out, code := grade(append(env, "GOMODCACHE="+t.TempDir())); code != 64 || !strings.Contains(out, "clone of the bpflab repository") {
		t.Errorf("without the module's files: exit %d\n%s", code, out)
	}
}

// writeModuleZip writes the files under dir as the module zip of
// prefix (module@version), as a proxy serves it.
func writeModuleZip(t *testing.T, dir, dst, prefix string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		w, err := zw.Create(prefix + "/" + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
}
