package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoClang is returned when clang is not installed.
var ErrNoClang = errors.New("clang not found: run 'make deps' (scripts/deps.sh) or apt-get install clang")

// CompileError is a C file that clang rejected. Msg is clang's diagnostics,
// whose lines start with the student's file:line.
type CompileError struct {
	Src string
	Msg string
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("%s does not compile:\n%s", e.Src, e.Msg)
}

// Compile builds the BPF C file src into the object dst with clang, for
// CO-RE: -g (BTF), -O2, -target bpf, with include paths for the shared
// headers. The file is compiled as it is now, so what is graded is always
// the current edit.
func Compile(ctx context.Context, src, dst string, includes []string) error {
	clang, err := exec.LookPath("clang")
	if err != nil {
		return ErrNoClang
	}
	args := []string{"-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86",
		"-Wall", "-Wno-unused-variable", "-Wno-unused-function",
		"-fno-color-diagnostics"}
	for _, inc := range includes {
		args = append(args, "-I", inc)
	}
	// Debian keeps asm/ headers under the multiarch directory.
	if _, err := os.Stat("/usr/include/x86_64-linux-gnu"); err == nil {
		args = append(args, "-idirafter", "/usr/include/x86_64-linux-gnu")
	}
	rel := src
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, src); err == nil && !strings.HasPrefix(r, "..") {
			rel = r
		}
	}
	args = append(args, "-c", rel, "-o", dst)
	cmd := exec.CommandContext(ctx, clang, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			msg = err.Error()
		}
		return &CompileError{Src: rel, Msg: msg}
	}
	return nil
}

// FirstErrors keeps the first n lines of clang's output that carry an
// error, with the line after each (the source line clang quotes).
func FirstErrors(msg string, n int) string {
	lines := strings.Split(msg, "\n")
	var out []string
	for i, l := range lines {
		if strings.Contains(l, "error:") {
			out = append(out, l)
			if i+1 < len(lines) {
				out = append(out, lines[i+1])
			}
			if i+2 < len(lines) && strings.TrimSpace(lines[i+2]) == "^" || i+2 < len(lines) && strings.Contains(lines[i+2], "^") {
				out = append(out, lines[i+2])
			}
			if len(out) >= n*3 {
				break
			}
		}
	}
	if len(out) == 0 {
		return msg
	}
	return strings.Join(out, "\n")
}
