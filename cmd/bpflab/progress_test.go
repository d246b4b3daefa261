package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/bpflab/bpflab/internal/testvm"
)

// TestProgressPlain drives the progress of a grading run as CI sees it
// (stderr not a terminal): a plain line per step, nothing rewritten.
func TestProgressPlain(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(p *progress)
		want []string
	}{
		{"one kernel", func(p *progress) {
			p.Status("compiling %s", plural(1, "file"))
			p.Status("fetching kernel %s", "6.12")
			k := newKernelProgress(p, 1)
			k.Phase("6.12", "booting")
			k.Phase("6.12", "grading")
			k.Done("6.12", "6.12: PASS in 1.0s")
			p.Clear()
		}, []string{
			"bpflab: compiling 1 file",
			"bpflab: fetching kernel 6.12",
			"bpflab: booting 6.12",
			"bpflab: grading 6.12",
		}},
		{"several kernels, a line as each ends", func(p *progress) {
			p.Status("compiling %s", plural(2, "file"))
			k := newKernelProgress(p, 2)
			k.Phase("7.x", "booting")
			k.Phase("6.1", "booting")
			k.Phase("7.x", "grading")
			k.Done("7.x", "7.x: FAIL in 2.0s")
			k.Phase("6.1", "grading")
			k.Done("6.1", "6.1: PASS in 3.0s")
			p.Clear()
		}, []string{
			"bpflab: compiling 2 files",
			"bpflab: booting 7.x",
			"bpflab: booting 6.1",
			"bpflab: grading 7.x",
			"bpflab: 7.x: FAIL in 2.0s",
			"bpflab: grading 6.1",
			"bpflab: 6.1: PASS in 3.0s",
		}},
		{"a status said twice is one line", func(p *progress) {
			p.Status("compiling 1 file")
			p.Status("compiling 1 file")
		}, []string{"bpflab: compiling 1 file"}},
		{"other writers pass through", func(p *progress) {
			p.Status("booting 6.12")
			fmt.Fprint(p.Writer(), "bpflab: warning: a guest under KVM did not start\n")
			p.Status("grading 6.12")
		}, []string{
			"bpflab: booting 6.12",
			"bpflab: warning: a guest under KVM did not start",
			"bpflab: grading 6.12",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := progressOn(&buf, false) // not a file: never live
			tc.run(p)
			out := buf.String()
			if strings.ContainsAny(out, "\r\x1b") {
				t.Errorf("control characters in plain output: %q", out)
			}
			if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("lines:\n%s\nwant:\n%s", out, strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestProgressLive checks the status line on a terminal: rewritten in
// place, cut to the width, out of the way of other lines, and erased.
func TestProgressLive(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, true, 30)
	p.Status("compiling 1 file")
	p.Status("booting 6.12")
	fmt.Fprint(p.Writer(), "a log line\n")
	k := newKernelProgress(p, 3)
	k.Phase("7.x", "grading")
	k.Phase("6.1", "booting")
	k.Done("7.x", "7.x: PASS in 1.0s")
	p.Clear()
	p.Clear()

	const e = eraseLine
	want := e + "bpflab: compiling 1 file" +
		e + "bpflab: booting 6.12" +
		e + "a log line\n" + e + "bpflab: booting 6.12" +
		e + "bpflab: grading 7.x (0 of 3 …" +
		e + "bpflab: grading 7.x; booting…" +
		e + "bpflab: 7.x: PASS in 1.0s\n" + e + "bpflab: booting 6.1 (1 of 3 …" +
		e
	if got := buf.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	for _, line := range strings.Split(buf.String(), e) {
		if n := len([]rune(strings.TrimSuffix(line, "\n"))); n > 29 {
			t.Errorf("a status of %d columns on a terminal of 30: %q", n, line)
		}
	}
}

func TestKernelProgressLine(t *testing.T) {
	k := newKernelProgress(newProgress(&bytes.Buffer{}, false, 0), 5)
	k.Phase("7.x", "booting")
	k.Phase("6.18", "booting")
	k.Phase("6.12", "booting")
	k.Phase("7.x", "grading")
	k.Done("6.18", "6.18: PASS in 1.0s")
	if got, want := k.line(), "grading 7.x; booting 6.12 (1 of 5 done)"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
}

// TestGradeProgress grades the reference solution on the default kernel
// with stderr not a terminal, and reads the steps, then makes the guest
// hang at boot and reads the reproducing command. It boots a guest.
func TestGradeProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a guest")
	}
	k := testvm.Default(t)
	bin := testvm.Binary(t)
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = testvm.ModuleRoot()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return stdout.String(), stderr.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), 0
	}

	t.Run("steps", func(t *testing.T) {
		stdout, stderr, code := run("grade", "lab-1", "--solution", "--accel", "tcg", "--kernel", k.Alias)
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		// In this order, whatever else is logged between them.
		rest := stderr
		for _, w := range []string{"bpflab: compiling 1 file\n", "bpflab: booting " + k.Alias + "\n", "bpflab: grading " + k.Alias + "\n"} {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Fatalf("stderr lacks %q after the steps before it:\n%s", w, stderr)
			}
			rest = rest[i+len(w):]
		}
		if strings.ContainsAny(stderr, "\r\x1b") {
			t.Errorf("control characters on a stderr that is not a terminal: %q", stderr)
		}
	})

	t.Run("reproduce a boot hang", func(t *testing.T) {
		_, stderr, code := run("grade", "lab-1", "--solution", "--accel", "tcg", "--kernel", k.Alias,
			"--seed", "42", "--qemu-arg=-S", "--boot-timeout", "3s")
		if code != 66 {
			t.Fatalf("exit %d, want 66 (boot hang)\n%s", code, stderr)
		}
		// The reproducing command grades the same thing the same way; the
		// order of its flags is the renderer's.
		i := strings.Index(stderr, "reproduce with: "+bin+" grade lab-1 --kernel "+k.Alias+" ")
		if i < 0 {
			t.Fatalf("no grade reproducing command:\n%s", stderr)
		}
		line, _, _ := strings.Cut(stderr[i:], "\n")
		for _, w := range []string{" --seed 42", " --solution", " --accel tcg", " --boot-timeout 3s", " --qemu-arg=-S", " --console"} {
			if !strings.Contains(line+" ", w+" ") {
				t.Errorf("reproducing command lacks %q: %s", w, line)
			}
		}
	})
}
