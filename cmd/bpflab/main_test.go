package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bpflab/bpflab/internal/testvm"
	"github.com/bpflab/bpflab/vmtest"
	"github.com/google/go-cmp/cmp"
)

// bpflab runs the built command and returns its output and exit code.
func bpflab(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(testvm.Binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no command", nil, 64, "no command given"},
		{"unknown command", []string{"frobnicate"}, 64, "unknown command"},
		{"unknown alias", []string{"exec", "--kernel", "4.19", "/bin/true"}, 64, "use one of 5.10"},
		{"bad flag", []string{"exec", "--nope", "/bin/true"}, 64, "flag provided but not defined"},
		{"missing image", []string{"exec", "--kernel", "/nonexistent/vmlinuz", "/bin/true"}, 65, "does not exist"},
		{"garbage image", []string{"exec", "--kernel", "main.go", "/bin/true"}, 65, "not an x86 Linux kernel image"},
		{"no program", []string{"exec", "--kernel", "host"}, 64, "needs a program"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := bpflab(t, nil, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.msg)
			}
			if strings.Contains(stderr, "goroutine ") {
				t.Errorf("a Go stack trace reached the user:\n%s", stderr)
			}
		})
	}
}

func TestExecHost(t *testing.T) {
	_, _, code := bpflab(t, nil, "exec", "--kernel", "host", "/bin/sh", "-c", "exit 5")
	if code != 5 {
		t.Errorf("exit %d, want the program's 5", code)
	}
}

// goTest runs 'go test' on testdata/gotest with bpflab as -exec.
func goTest(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	k := testvm.Default(t)
	bin := testvm.Binary(t)
	argv := append([]string{"test", "-count=1", "-exec", bin + " exec --accel tcg --kernel " + k.Path}, args...)
	argv = append(argv, "./testdata/gotest")
	cmd := exec.Command("go", argv...)
	cmd.Env = append(os.Environ(), env...)
	return combinedOutput(t, cmd)
}

// combinedOutput runs cmd and returns its output and exit code; a command
// that cannot start fails the test.
func combinedOutput(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestGoTestExec runs go test with bpflab as -exec: pass, fail, -run, -v,
// -json and -coverprofile behave as on the host.
func TestGoTestExec(t *testing.T) {
	t.Run("pass with coverage", func(t *testing.T) {
		cover := filepath.Join(t.TempDir(), "cover.out")
		out, code := goTest(t, nil, "-v", "-coverprofile="+cover)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		for _, want := range []string{"--- PASS: TestFixture", "--- SKIP: TestSkipped", "coverage:"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		b, err := os.ReadFile(cover)
		if err != nil || !bytes.HasPrefix(b, []byte("mode: ")) || !bytes.Contains(b, []byte("gotest.go")) {
			t.Errorf("coverage profile from the guest: %v\n%s", err, b)
		}
	})
	t.Run("fail", func(t *testing.T) {
		out, code := goTest(t, []string{"BPFLAB_GOTEST_FAIL=1"})
		if code != 1 || !strings.Contains(out, "failing on request") {
			t.Errorf("exit %d, want 1 with the failure:\n%s", code, out)
		}
	})
	t.Run("run filter and json", func(t *testing.T) {
		out, code := goTest(t, []string{"BPFLAB_GOTEST_FAIL=1"}, "-json", "-run", "TestFixture")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		var passed []string
		for _, line := range strings.Split(out, "\n") {
			var ev struct{ Action, Test string }
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Action == "pass" && ev.Test != "" {
				passed = append(passed, ev.Test)
			}
		}
		if strings.Join(passed, ",") != "TestFixture" {
			t.Errorf("passed tests %v, want only TestFixture:\n%s", passed, out)
		}
	})
}

// TestGoTestExecCgo runs a cgo package's test binary, which is dynamically
// linked: its loader and libraries go into the guest with it.
func TestGoTestExecCgo(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no C compiler for cgo")
	}
	k := testvm.Default(t)
	cmd := exec.Command("go", "test", "-count=1", "-v", "-exec", testvm.Binary(t)+" exec --accel tcg --kernel "+k.Path, "./testdata/cgotest")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestTwice") {
		t.Fatalf("go test of a cgo package in a guest: %v\n%s", err, out)
	}
}

// TestRunSummary runs 'bpflab run' on two kernels and reads its summary.
func TestRunSummary(t *testing.T) {
	ks := testvm.Kernels(t)
	first, last := ks[0], ks[len(ks)-1]
	stdout, stderr, code := bpflab(t, []string{"BPFLAB_GOTEST_FAIL=1"},
		"run", "--accel", "tcg", "--kernel", first.Alias+","+last.Alias, "--", "go", "test", "-count=1", "./testdata/gotest")
	if code != 1 {
		t.Errorf("exit %d, want 1 (a test fails)\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, k := range []string{first.Alias, last.Alias} {
		// KERNEL RESULT PASS FAIL SKIP TIME
		found := false
		for _, line := range strings.Split(stdout, "\n") {
			f := strings.Fields(line)
			if len(f) == 6 && f[0] == k {
				found = true
				if f[1] != "FAIL" || f[2] != "2" || f[3] != "1" || f[4] != "1" {
					t.Errorf("summary row %q, want FAIL 2 1 1", line)
				}
			}
		}
		if !found {
			t.Errorf("no summary row for %s:\n%s", k, stdout)
		}
	}
}

func TestExitCodesDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(testvm.ModuleRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for c := vmtest.ClassUsage; c <= vmtest.ClassPayload; c++ {
		if _, ok := exitCodes[c.String()]; !ok {
			t.Errorf("the library's failure class %v has no exit code", c)
		}
	}
	for class, code := range exitCodes {
		if !strings.Contains(string(readme), "| "+strconv.Itoa(code)+" | "+class+" |") {
			t.Errorf("README does not document exit code %d (%s)", code, class)
		}
	}
}

// TestLoggerVoice: log lines read like the command's errors, debug lines
// only with -v, whatever library logger they come from.
func TestLoggerVoice(t *testing.T) {
	var quiet, verbose strings.Builder
	for _, c := range []struct {
		w       *strings.Builder
		verbose bool
	}{{&quiet, false}, {&verbose, true}} {
		l := newLogger(c.w, c.verbose).Named("kernels")
		l.Info("fetching kernel 6.12 once", "package", "linux-image-x", "version", "1")
		l.Warn("a guest under KVM did not start", "reason", "no /dev/kvm")
		l.Debug("starting qemu")
	}
	want := "bpflab: fetching kernel 6.12 once (package=linux-image-x, version=1)\n" +
		"bpflab: warning: a guest under KVM did not start (reason=no /dev/kvm)\n"
	if diff := cmp.Diff(want, quiet.String()); diff != "" {
		t.Errorf("without -v (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want+"bpflab: debug: starting qemu\n", verbose.String()); diff != "" {
		t.Errorf("with -v (-want +got):\n%s", diff)
	}
}
