package main

import (
	"bytes"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bpflab/bpflab/internal/testvm"
)

// TestShellCommand runs one command in the guest shell: busybox, tracefs,
// bpftool, the lab objects, the labs' own programs and nm (to find a
// uprobe's offset by hand) are there, and the exit code comes back.
func TestShellCommand(t *testing.T) {
	k := testvm.Default(t)
	stdout, stderr, code := bpflab(t, nil, "shell", "--accel", "tcg", "--kernel", k.Path, "--",
		"head -1 /sys/kernel/tracing/events/syscalls/sys_enter_openat/format; ls /root/labs; bpftool version >/dev/null && echo bpftool-ok; nm /root/labs/lab-3/pinlock | grep -w check_pin; exit 3")
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s", code, stderr)
	}
	for _, want := range []string{"name: sys_enter_openat", "lab-1.bpf.o", "lab-2.bpf.o", "bpftool-ok", "T check_pin"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestShellInteractive types into the guest's shell through its console,
// as a person would, and reads the answer and the exit code.
func TestShellInteractive(t *testing.T) {
	k := testvm.Default(t)
	cmd := exec.Command(testvm.Binary(t), "shell", "--accel", "tcg", "--kernel", k.Path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(out.String(), "Lab objects and programs:") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no prompt:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	io.WriteString(stdin, "echo answer-$((6*7))\nexit 7\n")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the shell did not exit:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 7 {
		t.Errorf("exit %d, want 7\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "answer-42") {
		t.Errorf("the shell did not answer:\n%s", out.String())
	}
}
