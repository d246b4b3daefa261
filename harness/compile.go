package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// ErrNoClang is returned when clang is not installed.
var ErrNoClang = errors.New("clang not found: run 'make deps' (scripts/deps.sh) or apt-get install clang")

// ErrCompileTimeLimit is wrapped by the [CompileError] of a compile that ran
// past [CompileTimeLimit] and was stopped.
var ErrCompileTimeLimit = errors.New("clang ran past its time limit")

// CompileTimeLimit bounds one compile of a student's file, wall time. The
// lab files compile in well under a second; a file that includes itself,
// or expands a macro without end, would keep clang busy for minutes.
const CompileTimeLimit = 30 * time.Second

// compileTimeLimit is CompileTimeLimit; tests shorten it.
var compileTimeLimit = CompileTimeLimit

// CompileMemoryLimit is clang's address-space limit (RLIMIT_AS), in bytes.
// Compiling a lab with vmlinux.h needs a few hundred MiB.
const CompileMemoryLimit = 2 << 30

const (
	// maxCompileOutput caps the clang output kept: a file that includes
	// itself prints megabytes of "In file included from".
	maxCompileOutput = 64 << 10
	// maxSourceSize bounds the C file copied in for compiling.
	maxSourceSize = 1 << 20
	// maxObjectSize bounds any file clang writes (RLIMIT_FSIZE).
	maxObjectSize = 64 << 20
)

// CompileError is a C file that clang rejected. Msg is clang's diagnostics,
// whose lines start with the student's file:line. Err, when set, says why
// clang did not finish ([ErrCompileTimeLimit]).
type CompileError struct {
	Src string
	Msg string
	Err error
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("%s does not compile:\n%s", e.Src, e.Msg)
}

func (e *CompileError) Unwrap() error { return e.Err }

// Compile builds the BPF C file src into the object dst with clang, for
// CO-RE: -g (BTF), -O2, -target bpf, with include paths for the shared
// headers. The file is compiled as it is now, so what is graded is always
// the current edit.
//
// The file is untrusted: it is copied into a private directory and clang
// runs in a sandbox that sees nothing of the host but the compiler, the
// system headers and includes, with time, memory and output limits (see
// sandbox.go). A file clang rejects, or that runs past a limit, is a
// *[CompileError]; a sandbox that cannot be set up is [ErrNoSandbox], and
// BPFLAB_UNSAFE_COMPILE=1 ([UnsafeCompileEnv]) compiles without it.
func Compile(ctx context.Context, src, dst string, includes []string) error {
	clang, err := exec.LookPath("clang")
	if err != nil {
		return ErrNoClang
	}
	unsafe := os.Getenv(UnsafeCompileEnv) == "1"
	var bwrap, prlimit string
	if !unsafe {
		if bwrap, err = exec.LookPath("bwrap"); err != nil {
			return fmt.Errorf("%w: bwrap (bubblewrap) is not installed: run 'make deps' (scripts/deps.sh) or apt-get install bubblewrap; "+
				"%s=1 compiles without a sandbox, for files you trust only", ErrNoSandbox, UnsafeCompileEnv)
		}
	}
	if prlimit, err = exec.LookPath("prlimit"); err != nil {
		return fmt.Errorf("%w: prlimit, which sets clang's memory limit, is not installed: run 'make deps' (scripts/deps.sh) or apt-get install util-linux", ErrNoSandbox)
	}
	tc := &toolchain{clang: clang}
	if !unsafe {
		if tc, err = findToolchain(clang); err != nil {
			return fmt.Errorf("%w: %w", ErrNoSandbox, err)
		}
	}

	absSrc, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("compiling %s: %w", src, err)
	}
	rel := displayName(src)
	// The name clang is given: the path as the user sees it when it is
	// below the working directory, else the base name. Never one that
	// starts with "bwrap:", which would pass for bwrap's own messages.
	name := rel
	if !filepath.IsLocal(name) {
		name = filepath.Base(src)
	}
	if strings.HasPrefix(name, "bwrap") {
		name = "./" + name
	}

	work, err := os.MkdirTemp("", "bpflab-cc-")
	if err != nil {
		return fmt.Errorf("compiling %s: %w", rel, err)
	}
	defer os.RemoveAll(work)
	if err := os.Mkdir(filepath.Join(work, "out"), 0o755); err != nil {
		return fmt.Errorf("compiling %s: %w", rel, err)
	}
	copied, err := copySource(src, filepath.Join(work, "src", name))
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("compiling %s: %w", rel, err)
		}
		return &CompileError{Src: rel, Msg: fmt.Sprintf("%s cannot be compiled: %v", rel, err)}
	}

	var incs []string
	for _, inc := range includes {
		abs, err := filepath.Abs(inc)
		if err != nil {
			return fmt.Errorf("include directory %s: %w", inc, err)
		}
		incs = append(incs, abs)
	}
	// Inside the sandbox the private directories have fixed names.
	outDir := sandboxOut
	if unsafe {
		outDir = filepath.Join(work, "out")
	}
	// The multiarch directory comes after the others: usdt.bpf.h includes
	// <linux/errno.h>, which needs its <asm/errno.h>.
	flags := []string{"-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86",
		"-Wall", "-Wno-unused-variable", "-Wno-unused-function",
		"-fno-color-diagnostics", "-fno-crash-diagnostics",
		"-idirafter", "/usr/include/x86_64-linux-gnu"}
	args := append([]string{}, flags...)
	for _, inc := range incs {
		args = append(args, "-I", inc)
	}
	// Headers beside the file (a lab's testdata/wrong/wrong.h) are found
	// where the file is, when that is inside an include directory (the
	// sandbox then shows that directory's headers too). Elsewhere only the
	// file itself is copied in: a submission is one file plus the lab's
	// headers.
	quoteDir := ""
	if dir := filepath.Dir(absSrc); underAny(dir, incs) {
		quoteDir = dir
		args = append(args, "-iquote", dir)
	}
	// Debian keeps asm/ headers under the multiarch directory.
	if isDir("/usr/include/x86_64-linux-gnu") {
		args = append(args, "-idirafter", "/usr/include/x86_64-linux-gnu")
	}
	args = append(args, "-c", name, "-o", filepath.Join(outDir, "obj.o"))

	// clang reads the copy, which is what pchFor looks at too.
	pch := ""
	if name != pchHeader {
		pch = pchFor(ctx, tc.clang, flags, copied, quoteDir, incs)
	}
	limit := compileTimeLimit
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	runClang := func(pch string) ([]byte, bool, error) {
		args := args
		var ro []string
		if pch != "" {
			args = append([]string{"-include-pch", pch}, args...)
			ro = append(ro, pch)
		}
		var argv []string
		if unsafe {
			argv = append([]string{tc.clang}, args...)
		} else {
			dirs := incs
			if quoteDir != "" {
				dirs = append(slices.Clone(incs), quoteDir)
			}
			argv = append([]string{bwrap}, sandboxArgs(bwrap, tc, dirs, ro, work, args)...)
		}
		argv = append([]string{prlimit}, limitArgs(argv)...)
		return runBounded(cctx, argv, filepath.Join(work, "src"), maxCompileOutput)
	}
	out, cut, err := runClang(pch)
	if err != nil && pch != "" && ctx.Err() == nil && cctx.Err() == nil {
		// The file as written, for clang's own words on it.
		out, cut, err = runClang("")
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if cctx.Err() != nil {
			return &CompileError{Src: rel, Err: ErrCompileTimeLimit,
				Msg: fmt.Sprintf("clang ran past %v: %s takes too long to compile and was stopped "+
					"(a file that includes itself, or a macro that never stops expanding, does this)", limit, rel)}
		}
		if why := sandboxFailure(out); why != "" && !unsafe {
			return fmt.Errorf("%w: %s: %s", ErrNoSandbox, why, sandboxFix)
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return fmt.Errorf("running clang: %w", err)
		}
		msg, dumped := stripCrashDump(strings.TrimSpace(string(out)))
		switch {
		case strings.Contains(msg, "LLVM ERROR: out of memory") || strings.Contains(msg, "bad_alloc"):
			msg = fmt.Sprintf("clang ran out of memory (limit %d MiB) compiling %s: a very large initialised array, "+
				"or a macro that expands without end, does this", CompileMemoryLimit>>20, rel)
		case ee.ExitCode() == 128+int(syscall.SIGXFSZ) || dumped && strings.Contains(msg, "IO failure on output stream"):
			msg = fmt.Sprintf("clang wrote more than %d MiB compiling %s and was stopped: a very large initialised array does this", maxObjectSize>>20, rel)
		case dumped || ee.ExitCode() > 128 || ee.ExitCode() < 0:
			msg = fmt.Sprintf("clang crashed compiling %s (exit %d)\n%s", rel, ee.ExitCode(), msg)
		case msg == "":
			msg = err.Error()
		}
		if cut {
			msg += fmt.Sprintf("\n(clang's output was cut at %d KiB)", maxCompileOutput>>10)
		}
		return &CompileError{Src: rel, Msg: explainHidden(msg)}
	}
	if err := copyObject(filepath.Join(work, "out", "obj.o"), dst); err != nil {
		return fmt.Errorf("compiling %s: %w", rel, err)
	}
	return nil
}

// underAny reports whether p is one of dirs or below one.
func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if r, err := filepath.Rel(d, p); err == nil && filepath.IsLocal(r) || p == d {
			return true
		}
	}
	return false
}

// displayName is src relative to the working directory when it is below
// it, as the user typed it; otherwise src.
func displayName(src string) string {
	wd, err := os.Getwd()
	if err != nil {
		return src
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return src
	}
	if r, err := filepath.Rel(wd, abs); err == nil && filepath.IsLocal(r) {
		return r
	}
	return src
}

// crashDumpLine is a line of the report clang prints when it crashes:
// the request for a bug report, the stack of what it was doing, a
// backtrace.
var crashDumpLine = regexp.MustCompile(`^(?:PLEASE submit a bug report|Stack dump:|Stack dump without symbol names|\s*\d+\.\s|\s*#\d+ 0x|\s*/\S+\(\S*\+0x[0-9a-f]+\))`)

// stripCrashDump removes clang's crash report from its output and says
// whether there was one.
func stripCrashDump(msg string) (string, bool) {
	if !strings.Contains(msg, "PLEASE submit a bug report") && !strings.Contains(msg, "Stack dump:") {
		return msg, false
	}
	var keep []string
	for _, l := range strings.Split(msg, "\n") {
		if !crashDumpLine.MatchString(l) {
			keep = append(keep, l)
		}
	}
	return strings.TrimSpace(strings.Join(keep, "\n")), true
}

// notFound matches clang's messages for a file it cannot see: a header
// (fatal error: 'x' file not found) or an .incbin (Could not find incbin
// file 'x').
var notFound = regexp.MustCompile(`(?m)^(.*(?:error: '([^']*)' file not found|Could not find incbin file '([^']*)'))$`)

// explainHidden adds to clang's "file not found" for an absolute path or
// one that climbs out with "..", the reason: the compiler sees only the
// lab's headers and the system headers.
func explainHidden(msg string) string {
	return notFound.ReplaceAllStringFunc(msg, func(line string) string {
		m := notFound.FindStringSubmatch(line)
		p := m[2] + m[3]
		if !filepath.IsAbs(p) && !strings.Contains(p, "..") {
			return line
		}
		return line + " (only the lab's headers, bpf/ and the system headers are visible when compiling)"
	})
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
