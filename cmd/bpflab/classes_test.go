package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpflab/bpflab/internal/testvm"
)

// TestFailureClasses runs bpflab exec into each failure class and checks
// its exit code, its one-line summary, the reproducing command, and that
// it ends within its deadline.
func TestFailureClasses(t *testing.T) {
	k := testvm.Default(t)
	trunc := filepath.Join(t.TempDir(), "vmlinuz")
	img, err := os.ReadFile(k.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trunc, img[:len(img)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		summary string
		within  time.Duration
	}{
		{"truncated kernel", []string{"--kernel", trunc, "/bin/true"}, 65, "truncated or corrupt", 30 * time.Second},
		{"boot hang", []string{"--qemu-arg=-S", "--boot-timeout", "3s", "/bin/true"}, 66, "boot hang", 20 * time.Second},
		{"panic that halts", []string{"--cmdline", "rdinit=/nonexistent panic=0", "--boot-timeout", "60s", "/bin/true"}, 67, "Kernel panic", 40 * time.Second},
		{"payload timeout", []string{"--run-timeout", "3s", "/bin/sh", "-c", "while :; do :; done"}, 68, "timed out", 60 * time.Second},
		{"out of memory", []string{"--memory", "128", "/bin/sh", "-c", "x=aaaaaaaa; while :; do x=$x$x; done"}, 69, "out of memory", 60 * time.Second},
		{"not executable", []string{"/etc/hostname"}, 71, "pass an ELF executable", 30 * time.Second},
		{"payload exit code relayed", []string{"/bin/sh", "-c", "exit 42"}, 42, "", 60 * time.Second},
		{"payload killed by a signal", []string{"/bin/sh", "-c", "kill -TERM $$"}, 128 + 15, "", 60 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"exec", "--accel", "tcg"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--kernel") {
				args = append([]string{"exec", "--accel", "tcg", "--kernel", k.Path}, tc.args...)
			}
			start := time.Now()
			crashes := t.TempDir()
			_, stderr, code := bpflab(t, []string{"BPFLAB_CRASH_DIR=" + crashes}, args...)
			took := time.Since(start)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, stderr)
			}
			if took > tc.within {
				t.Errorf("took %v, want under %v", took, tc.within)
			}
			if tc.summary == "" {
				return
			}
			first, _, _ := strings.Cut(stderr, "\n")
			if !strings.Contains(first, tc.summary) {
				t.Errorf("first line %q does not say %q", first, tc.summary)
			}
			if !strings.Contains(stderr, "reproduce with: ") {
				t.Errorf("no reproducing command:\n%s", stderr)
			}
			if strings.Contains(stderr, "goroutine ") {
				t.Errorf("a Go stack trace reached the user:\n%s", stderr)
			}
			if code == 68 || code == 69 {
				// A crashed program is kept, with its output, where the
				// error says.
				ents, _ := os.ReadDir(crashes)
				if len(ents) != 1 || !strings.Contains(stderr, filepath.Join(crashes, ents[0].Name())) {
					t.Fatalf("crash directory not named in stderr (have %v):\n%s", ents, stderr)
				}
				for _, f := range []string{"sh", "stdout.txt", "stderr.txt", "console.txt", "command.txt"} {
					if _, err := os.Stat(filepath.Join(crashes, ents[0].Name(), f)); err != nil {
						t.Errorf("crash directory lacks %s", f)
					}
				}
			}
		})
	}
}

// TestInterruptLeavesNothing sends SIGINT to bpflab in the middle of a
// boot: QEMU must die with it, and its temporary files must be gone.
func TestInterruptLeavesNothing(t *testing.T) {
	tmp := t.TempDir()
	cmd, stderr := startPausedGuest(t, tmp)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("bpflab did not stop within 20s of SIGINT")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d after SIGINT, want 130\n%s", code, stderr.String())
	}
	time.Sleep(200 * time.Millisecond)
	if pids := qemusUnder(tmp); len(pids) > 0 {
		t.Errorf("qemu processes survived: %v", pids)
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("temporary files survived in %s: %v", tmp, names)
	}
}

// startPausedGuest starts bpflab exec with a guest that never runs (QEMU
// -S), its temporary files under tmp, and returns once QEMU is up.
func startPausedGuest(t *testing.T, tmp string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	k := testvm.Default(t)
	cmd := exec.Command(testvm.Binary(t), "exec", "--accel", "tcg", "--kernel", k.Path,
		"--qemu-arg=-S", "--boot-timeout", "5m", "/bin/true")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(qemusUnder(tmp)) == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("qemu did not start\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cmd, &stderr
}

// qemusUnder lists QEMU processes whose command line mentions dir.
func qemusUnder(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmtSscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte("qemu-system")) && bytes.Contains(b, []byte(dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func fmtSscan(s string, pid *int) (int, error) { return fmt.Sscan(s, pid) }

// TestKilledBpflabTakesQEMU kills bpflab with SIGKILL, which it cannot
// catch: QEMU must still die with it (its parent-death signal).
func TestKilledBpflabTakesQEMU(t *testing.T) {
	tmp := t.TempDir()
	cmd, _ := startPausedGuest(t, tmp)
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for len(qemusUnder(tmp)) > 0 {
		if time.Now().After(deadline) {
			for _, p := range qemusUnder(tmp) {
				syscall.Kill(p, syscall.SIGKILL)
			}
			t.Fatal("qemu outlived a SIGKILLed bpflab")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
