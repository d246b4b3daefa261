package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bpflab/bpflab/vmtest"
)

// How clang is contained. A student's C file is untrusted input to a large
// program, so clang runs under bubblewrap (bwrap):
//
//   - in new user, mount, pid, network, IPC, UTS and cgroup namespaces, as
//     uid and gid 65534 (nobody) with no capabilities, unable to create
//     further user namespaces where bwrap supports it (0.8 and later);
//   - on an empty root where only these host paths exist, read-only: the
//     clang binary, its LLVM directory (/usr/lib/llvm-N on Debian) and the
//     shared libraries it loads, /usr/include, and the headers (*.h) of the
//     include directories the lab names (its own directory and bpf/), not
//     the rest of them: a lab's directory holds its reference solution, its
//     known-wrong programs and its grader;
//   - with the source file copied into a private directory (read-only) and
//     an empty output directory (the only writable place), both under
//     /bpflab; no /proc, /dev, /tmp, /etc or home directory. Headers beside
//     the source are found only when its directory is inside an include
//     directory (a lab's testdata/wrong/wrong.h), and then its headers
//     only;
//   - with an empty environment, in a session of its own, killed with bpflab;
//   - under resource limits set by prlimit before bwrap starts: address
//     space [CompileMemoryLimit], file size [maxObjectSize], no core dumps;
//     and a wall-time limit, [CompileTimeLimit].
//
// So `#include "/etc/shadow"` and `.incbin "/etc/shadow"` fail with clang's
// "file not found": the file does not exist in clang's world.
//
// Where bwrap cannot create its namespaces (an unprivileged container, user
// namespaces switched off) compiling fails with [ErrNoSandbox] and the fix.
// Setting BPFLAB_UNSAFE_COMPILE=1 ([UnsafeCompileEnv]) runs clang without
// the sandbox, still under the limits (and on the private copy of the
// file): for files you trust only.

// UnsafeCompileEnv is the environment variable that, set to 1, compiles
// without the sandbox. Use it only for files you trust (your own), on a
// machine where bwrap cannot run.
const UnsafeCompileEnv = "BPFLAB_UNSAFE_COMPILE"

// ErrNoSandbox is returned when clang cannot be run in its sandbox: bwrap
// or prlimit is missing, or bwrap cannot create namespaces here. The
// wrapping error says which, and how to fix it.
var ErrNoSandbox = errors.New("cannot sandbox clang")

// sandboxID is the uid and gid clang has inside the sandbox (nobody).
const sandboxID = 65534

// Where the private directories appear inside the sandbox.
const (
	sandboxSrc = "/bpflab/src"
	sandboxOut = "/bpflab/out"
)

// sandboxFix says how to get a working sandbox, or how to do without one.
const sandboxFix = "allow user namespaces (sysctl -w user.max_user_namespaces=15000, and kernel.unprivileged_userns_clone=1 where that exists; " +
	"in a container, run it with --security-opt seccomp=unconfined --security-opt apparmor=unconfined and --security-opt systempaths=unconfined (Docker) or --security-opt unmask=/proc/sys (Podman), see docs/container.md), " +
	"or set " + UnsafeCompileEnv + "=1 to compile without a sandbox, for files you trust only"

// toolchain is what clang needs to run, found once per clang binary.
type toolchain struct {
	// clang is the binary itself, symlinks resolved: clang finds its
	// resource directory (builtin headers) next to it.
	clang string
	// ro are the host paths clang needs, bound read-only at the same path.
	ro []string
}

var toolchains sync.Map // clang path -> toolchainResult

type toolchainResult struct {
	tc  *toolchain
	err error
}

// findToolchain resolves clang and lists what it needs: its LLVM directory
// (or its resource directory) and its shared libraries.
func findToolchain(clang string) (*toolchain, error) {
	if r, ok := toolchains.Load(clang); ok {
		r := r.(toolchainResult)
		return r.tc, r.err
	}
	tc, err := resolveToolchain(clang)
	toolchains.Store(clang, toolchainResult{tc, err})
	return tc, err
}

func resolveToolchain(clang string) (*toolchain, error) {
	real, err := filepath.EvalSymlinks(clang)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", clang, err)
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return nil, err
	}
	tc := &toolchain{clang: real}
	// Debian and Ubuntu: /usr/lib/llvm-14/bin/clang. The whole LLVM
	// directory holds the binaries, the resource directory and libraries.
	prefix := filepath.Dir(filepath.Dir(real))
	if strings.HasPrefix(filepath.Base(prefix), "llvm") {
		tc.ro = append(tc.ro, prefix)
	} else {
		// Elsewhere (/usr/bin/clang): the binary and, if present, the
		// resource directory, never the whole prefix.
		tc.ro = append(tc.ro, real)
		for _, lib := range []string{"lib", "lib64"} {
			if d := filepath.Join(prefix, lib, "clang"); isDir(d) {
				tc.ro = append(tc.ro, d)
			}
		}
	}
	libs, err := vmtest.SharedDeps(real)
	if err != nil {
		return nil, fmt.Errorf("finding the libraries of %s: %w", real, err)
	}
	tc.ro = addLibraries(tc.ro, libs)
	return tc, nil
}

// addLibraries adds to ro, the paths bound read-only, each library and,
// when it is a symbolic link, its target: a library inside a directory
// already bound is visible there (bwrap cannot bind onto the link it is
// there), but the file it links to may be outside (clang 19's
// /usr/lib/llvm-19/lib/libclang-cpp.so.19.1 links into
// /usr/lib/x86_64-linux-gnu).
func addLibraries(ro, libs []string) []string {
	for _, lib := range libs {
		paths := []string{lib}
		if real, err := filepath.EvalSymlinks(lib); err == nil && real != lib {
			paths = append(paths, real)
		}
		for _, p := range paths {
			if !underAny(p, ro) {
				ro = append(ro, p)
			}
		}
	}
	return ro
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

var disableUserns sync.Map // bwrap path -> bool

// bwrapCanDisableUserns reports whether this bwrap has --disable-userns
// (bubblewrap 0.8), which keeps clang from regaining capabilities in a
// user namespace of its own. Older ones run without it.
func bwrapCanDisableUserns(bwrap string) bool {
	if v, ok := disableUserns.Load(bwrap); ok {
		return v.(bool)
	}
	out, _ := exec.Command(bwrap, "--help").CombinedOutput()
	v := bytes.Contains(out, []byte("--disable-userns"))
	disableUserns.Store(bwrap, v)
	return v
}

// sandboxArgs is the bwrap command line (after the bwrap binary) that runs
// clang with args, seeing work's src/ and out/ at sandboxSrc and sandboxOut,
// and the include directories and the files ro (a precompiled header) at
// their host paths, read-only.
func sandboxArgs(bwrap string, tc *toolchain, includes, ro []string, work string, args []string) []string {
	id := strconv.Itoa(sandboxID)
	a := []string{
		"--unshare-all", "--unshare-user",
		"--uid", id, "--gid", id,
		"--cap-drop", "ALL",
		"--die-with-parent", "--new-session", "--clearenv",
	}
	if bwrapCanDisableUserns(bwrap) {
		a = append(a, "--disable-userns")
	}
	for _, p := range tc.ro {
		a = append(a, "--ro-bind", p, p)
	}
	if isDir("/usr/include") {
		a = append(a, "--ro-bind", "/usr/include", "/usr/include")
	}
	for _, h := range headers(includes) {
		a = append(a, "--ro-bind", h, h)
	}
	for _, p := range ro {
		a = append(a, "--ro-bind", p, p)
	}
	a = append(a,
		"--ro-bind", filepath.Join(work, "src"), sandboxSrc,
		"--bind", filepath.Join(work, "out"), sandboxOut,
		"--chdir", sandboxSrc,
		"--", tc.clang)
	return append(a, args...)
}

// headers are the C headers (*.h) directly inside dirs: what clang may
// see of an include directory. A lab's directory also holds its reference
// solution, its known-wrong programs and its Go grader, which a
// submission must not include.
func headers(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".h") && e.Type().IsRegular() {
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
	}
	return out
}

// limitArgs is the prlimit command line (after the prlimit binary) that
// sets clang's resource limits before it runs argv.
func limitArgs(argv []string) []string {
	return append([]string{
		fmt.Sprintf("--as=%d", CompileMemoryLimit),
		fmt.Sprintf("--fsize=%d", maxObjectSize),
		"--core=0",
		"--",
	}, argv...)
}

// runBounded runs argv in dir with an empty environment until it exits or
// ctx ends, and returns at most limit bytes of its output (stdout and
// stderr together) and whether more was cut. The process is killed if
// bpflab dies.
func runBounded(ctx context.Context, argv []string, dir string, limit int) ([]byte, bool, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out := &cappedBuffer{n: limit}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Pdeathsig fires when the thread that started the child exits: keep
	// that thread until the child is gone.
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		done <- cmd.Run()
	}()
	err := <-done
	return out.buf.Bytes(), out.cut, err
}

// cappedBuffer keeps the first n bytes written to it and drops the rest.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	n   int
	cut bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.n - c.buf.Len()
	if room < len(p) {
		c.cut = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

// sandboxFailure recognises output written by bwrap itself (it failed to
// set up the sandbox, clang never ran) and returns its message, or "".
// Clang's own diagnostics never start with "bwrap: ": they start with the
// file name, and Compile never names a file that way.
func sandboxFailure(out []byte) string {
	s := string(out)
	if !strings.HasPrefix(s, "bwrap: ") {
		return ""
	}
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// copySource copies the student's file into dst, refusing what is not a
// regular file (a symbolic link could point at any host file, a FIFO or
// device would never end) and files over maxSourceSize, and returns what
// it copied.
func copySource(src, dst string) ([]byte, error) {
	st, err := os.Lstat(src)
	if err != nil {
		return nil, err
	}
	switch {
	case st.Mode()&os.ModeSymlink != 0:
		target, _ := os.Readlink(src)
		return nil, fmt.Errorf("it is a symbolic link (to %s): give the file itself", target)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("it is not a regular file (%s)", st.Mode().Type())
	case st.Size() > maxSourceSize:
		return nil, fmt.Errorf("it has %d bytes, over the limit of %d", st.Size(), maxSourceSize)
	}
	f, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSourceSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSourceSize {
		return nil, fmt.Errorf("it has more than %d bytes", maxSourceSize)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, err
	}
	return data, os.WriteFile(dst, data, 0o644)
}

// copyObject copies clang's output to dst. It is read without following a
// symbolic link and must be a regular file: nothing in the output
// directory is trusted.
func copyObject(obj, dst string) error {
	f, err := os.OpenFile(obj, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("reading clang's output: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() || st.Size() > maxObjectSize {
		return fmt.Errorf("reading clang's output: %s is not a regular file of at most %d bytes", obj, maxObjectSize)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.LimitReader(f, maxObjectSize)); err != nil {
		out.Close()
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return out.Close()
}
