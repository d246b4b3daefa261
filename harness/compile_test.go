package harness

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// needCompiler skips without clang, and fails without bwrap where the
// dependencies are installed (BPFLAB_REQUIRE_VM=1, as make test sets).
func needCompiler(t *testing.T) {
	t.Helper()
	required := os.Getenv("BPFLAB_REQUIRE_VM") == "1"
	for _, tool := range []string{"clang", "bwrap", "prlimit"} {
		if _, err := exec.LookPath(tool); err != nil {
			if required {
				t.Fatalf("%s is not installed (BPFLAB_REQUIRE_VM=1): run scripts/deps.sh", tool)
			}
			t.Skipf("%s is not installed: run 'make test', which installs it", tool)
		}
	}
}

// moduleRoot is the repository's root, two levels above this file.
func moduleRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the source tree")
	}
	return filepath.Dir(filepath.Dir(file))
}

// secretFile writes a file outside every directory the compiler may see,
// holding a marker that must never come back.
func secretFile(t *testing.T) (path, marker string) {
	t.Helper()
	marker = "bpflab-secret-7f3a9c"
	path = filepath.Join(t.TempDir(), "secret.h")
	if err := os.WriteFile(path, []byte(marker+" first line\nint "+marker+"_x;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, marker
}

func writeSrc(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompileHidesHostFiles(t *testing.T) {
	needCompiler(t)
	secret, marker := secretFile(t)
	// The host's real secret, when this test can read it.
	shadow := ""
	if b, err := os.ReadFile("/etc/shadow"); err == nil {
		shadow, _, _ = strings.Cut(string(b), "\n")
	}
	for _, tc := range []struct {
		name, src, want string
	}{
		{"include", `#include "` + secret + `"` + "\nint x;\n", "file not found"},
		{"include /etc/shadow", "#include \"/etc/shadow\"\nint x;\n", "'/etc/shadow' file not found"},
		{"include relative", `#include "../../../../../../../../..` + secret + `"` + "\nint x;\n", "file not found"},
		{"incbin", `asm(".incbin \"` + secret + `\"");` + "\nint x;\n", "incbin file"},
		{"incbin /etc/shadow", `asm(".incbin \"/etc/shadow\"");` + "\nint x;\n", "incbin file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := writeSrc(t, dir, "leak.bpf.c", tc.src)
			obj := filepath.Join(dir, "leak.o")
			err := Compile(context.Background(), src, obj, nil)
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a CompileError", err)
			}
			if strings.Contains(ce.Error(), marker) {
				t.Fatalf("the compile error carries the secret file's contents:\n%s", ce.Error())
			}
			if shadow != "" && strings.Contains(ce.Error(), shadow) {
				t.Fatalf("the compile error carries /etc/shadow's first line:\n%s", ce.Error())
			}
			if !strings.Contains(ce.Msg, tc.want) || !strings.Contains(ce.Msg, "only the lab's headers") {
				t.Errorf("the error does not say the file is out of reach:\n%s", ce.Msg)
			}
			if b, err := os.ReadFile(obj); err == nil && bytes.Contains(b, []byte(marker)) {
				t.Errorf("the object carries the secret file's contents")
			}
		})
	}
}

func TestCompileTimeLimit(t *testing.T) {
	needCompiler(t)
	defer func(d time.Duration) { compileTimeLimit = d }(compileTimeLimit)
	compileTimeLimit = 2 * time.Second
	dir := t.TempDir()
	// Each level includes the file twice: 2^60 inclusions, no error.
	src := writeSrc(t, dir, "slow.bpf.c", "#if __INCLUDE_LEVEL__ < 60\n#include \"slow.bpf.c\"\n#include \"slow.bpf.c\"\n#endif\nint x;\n")
	start := time.Now()
	err := Compile(context.Background(), src, filepath.Join(dir, "slow.o"), nil)
	took := time.Since(start)
	var ce *CompileError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCompileTimeLimit) {
		t.Fatalf("got %v, want a CompileError for the time limit", err)
	}
	if !strings.HasPrefix(ce.Msg, "clang ran past 2s: ") {
		t.Errorf("message %q does not name the limit", ce.Msg)
	}
	if took > 10*time.Second {
		t.Errorf("the compile was stopped after %v, want about 2s", took)
	}
}

func TestCompileResourceLimits(t *testing.T) {
	needCompiler(t)
	for _, tc := range []struct{ name, src, want string }{
		// clang's parser alone needs more than the address-space limit.
		{"memory", "char a[1500000000] = {1, [1499999999] = 2};\n", "clang ran out of memory (limit 2048 MiB)"},
		// A 100 MB object is over the file-size limit.
		{"object size", "char a[100000000] = {1};\n", "clang wrote more than 64 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := writeSrc(t, dir, "huge.bpf.c", tc.src)
			obj := filepath.Join(dir, "huge.o")
			err := Compile(context.Background(), src, obj, nil)
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a CompileError", err)
			}
			if !strings.Contains(ce.Msg, tc.want) || strings.Contains(ce.Msg, "Stack dump") {
				t.Errorf("message does not name the limit, or carries clang's crash report:\n%s", ce.Msg)
			}
			if _, err := os.Stat(obj); err == nil {
				t.Error("an object was written")
			}
		})
	}
}

func TestCompileCapsOutput(t *testing.T) {
	needCompiler(t)
	dir := t.TempDir()
	// Each level includes itself once more, up to clang's depth limit, with
	// a long "In file included from" chain per warning.
	var sb strings.Builder
	sb.WriteString("#if __INCLUDE_LEVEL__ < 150\n#include \"loud.bpf.c\"\n#endif\n")
	for i := 0; i < 20; i++ {
		sb.WriteString("#warning loud\n")
	}
	sb.WriteString("int x = ;\n")
	src := writeSrc(t, dir, "loud.bpf.c", sb.String())
	err := Compile(context.Background(), src, filepath.Join(dir, "loud.o"), nil)
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a CompileError", err)
	}
	if len(ce.Msg) > maxCompileOutput+1024 || !strings.Contains(ce.Msg, "output was cut") {
		t.Errorf("message of %d bytes, want at most %d and a note that it was cut", len(ce.Msg), maxCompileOutput)
	}
}

func TestCompileRefusesNonRegularSource(t *testing.T) {
	needCompiler(t)
	dir := t.TempDir()
	secret, marker := secretFile(t)
	link := filepath.Join(dir, "link.bpf.c")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	err := Compile(context.Background(), link, filepath.Join(dir, "link.o"), nil)
	var ce *CompileError
	if !errors.As(err, &ce) || !strings.Contains(ce.Msg, "symbolic link") {
		t.Fatalf("got %v, want a CompileError naming the link", err)
	}
	if strings.Contains(ce.Msg, marker) {
		t.Fatalf("the error carries the link target's contents:\n%s", ce.Msg)
	}
	if err := Compile(context.Background(), filepath.Join(dir, "missing.bpf.c"), filepath.Join(dir, "m.o"), nil); err == nil || !os.IsNotExist(errors.Unwrap(err)) {
		t.Errorf("a missing file: got %v, want not-exist", err)
	}
}

// TestCompileLabSolutions compiles each lab's reference solution from the
// repository, and a copy of one from a temporary directory, with the
// lab's include directories, as grading does.
func TestCompileLabSolutions(t *testing.T) {
	needCompiler(t)
	root := moduleRoot(t)
	tmpCopy := filepath.Join(t.TempDir(), "copied.bpf.c")
	b, err := os.ReadFile(filepath.Join(root, "labs/lab-1/solution/openat.bpf.c"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmpCopy, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ lab, src string }{
		{"lab-1", filepath.Join(root, "labs/lab-1/solution/openat.bpf.c")},
		{"lab-2", filepath.Join(root, "labs/lab-2/solution/unlink.bpf.c")},
		{"lab-1", tmpCopy},
	} {
		t.Run(tc.lab+"/"+filepath.Base(tc.src), func(t *testing.T) {
			obj := filepath.Join(t.TempDir(), "out.o")
			incs := []string{filepath.Join(root, "labs", tc.lab), filepath.Join(root, "bpf")}
			if err := Compile(context.Background(), tc.src, obj, incs); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(obj)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("\x7fELF")) {
				t.Errorf("%s is not an ELF object", obj)
			}
		})
	}
}

// TestCompileSiblingHeaders: a header beside the file is found when the
// file is inside an include directory (a lab's testdata/wrong/wrong.h);
// beside a file anywhere else it is not visible, as nothing else there is.
func TestCompileSiblingHeaders(t *testing.T) {
	needCompiler(t)
	lab := t.TempDir()
	wrong := filepath.Join(lab, "testdata", "wrong")
	if err := os.MkdirAll(wrong, 0o755); err != nil {
		t.Fatal(err)
	}
	writeSrc(t, wrong, "wrong.h", "#define ANSWER 42\n")
	inLab := writeSrc(t, wrong, "x.bpf.c", "#include \"wrong.h\"\nint x = ANSWER;\n")
	if err := Compile(context.Background(), inLab, filepath.Join(t.TempDir(), "x.o"), []string{lab}); err != nil {
		t.Errorf("a file inside the lab directory: %v", err)
	}

	elsewhere := t.TempDir()
	writeSrc(t, elsewhere, "wrong.h", "#define ANSWER 42\n")
	src := writeSrc(t, elsewhere, "y.bpf.c", "#include \"wrong.h\"\nint x = ANSWER;\n")
	err := Compile(context.Background(), src, filepath.Join(t.TempDir(), "y.o"), []string{lab})
	var ce *CompileError
	if !errors.As(err, &ce) || !strings.Contains(ce.Msg, "'wrong.h' file not found") {
		t.Errorf("a header beside a file outside the lab: got %v, want file not found", err)
	}
}

// TestCompileShowsOnlyHeaders: of a lab's directory a submission sees the
// headers at its top, never its reference solution, its grader or its
// known-wrong programs' headers (which hold correct helpers).
func TestCompileShowsOnlyHeaders(t *testing.T) {
	needCompiler(t)
	lab := t.TempDir()
	for _, d := range []string{"solution", "testdata/wrong"} {
		if err := os.MkdirAll(filepath.Join(lab, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeSrc(t, lab, "labx.h", "#define FROM_HEADER 1\n")
	writeSrc(t, lab, "lab.go", "package labx\n")
	writeSrc(t, lab, "solution/answer.bpf.c", "int answer = 42;\n")
	writeSrc(t, lab, "testdata/wrong/wrong.h", "#define ANSWER 42\n")
	dir := t.TempDir()
	src := writeSrc(t, dir, "ok.bpf.c", "#include \"labx.h\"\nint x = FROM_HEADER;\n")
	if err := Compile(context.Background(), src, filepath.Join(dir, "ok.o"), []string{lab}); err != nil {
		t.Fatalf("the lab's header: %v", err)
	}
	for _, inc := range []string{"solution/answer.bpf.c", "lab.go", "testdata/wrong/wrong.h", filepath.Join(lab, "solution/answer.bpf.c")} {
		src := writeSrc(t, dir, "leak.bpf.c", "#include \""+inc+"\"\nint x;\n")
		err := Compile(context.Background(), src, filepath.Join(dir, "leak.o"), []string{lab})
		var ce *CompileError
		if !errors.As(err, &ce) || !strings.Contains(ce.Msg, "file not found") {
			t.Errorf("#include %q: got %v, want file not found", inc, err)
		}
	}
}

func TestCompileRelativeSource(t *testing.T) {
	needCompiler(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeSrc(t, filepath.Join(dir, "sub"), "bad.bpf.c", "int f(void)\n{\n\treturn 0\n}\n")
	t.Chdir(dir)
	err := Compile(context.Background(), "sub/bad.bpf.c", filepath.Join(dir, "bad.o"), nil)
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a CompileError", err)
	}
	if ce.Src != "sub/bad.bpf.c" || !strings.HasPrefix(FirstErrors(ce.Msg, 1), "sub/bad.bpf.c:3:10: error:") {
		t.Errorf("error for %s does not name the file as given:\n%s", ce.Src, ce.Msg)
	}
}

func TestSandboxFailure(t *testing.T) {
	for _, tc := range []struct{ out, want string }{
		{"bwrap: Creating new namespace failed: Operation not permitted\n", "bwrap: Creating new namespace failed: Operation not permitted"},
		{"x.bpf.c:1:1: error: bwrap: no\n", ""},
		{"", ""},
	} {
		if got := sandboxFailure([]byte(tc.out)); got != tc.want {
			t.Errorf("sandboxFailure(%q) = %q, want %q", tc.out, got, tc.want)
		}
	}
}

// TestCompileSandboxUnavailable stands in a bwrap that fails as it does
// where namespaces are refused (an unprivileged container): compiling must
// fail, naming the fix, and never fall back to running clang bare unless
// BPFLAB_UNSAFE_COMPILE=1 says so.
func TestCompileSandboxUnavailable(t *testing.T) {
	needCompiler(t)
	bin := t.TempDir()
	fake := "#!/bin/sh\necho 'bwrap: Creating new namespace failed: Operation not permitted' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "bwrap"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	dir := t.TempDir()
	src := writeSrc(t, dir, "ok.bpf.c", "int x;\n")
	obj := filepath.Join(dir, "ok.o")

	err := Compile(context.Background(), src, obj, nil)
	if !errors.Is(err, ErrNoSandbox) {
		t.Fatalf("got %v, want ErrNoSandbox", err)
	}
	for _, want := range []string{"Creating new namespace failed", "user namespaces", UnsafeCompileEnv + "=1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := os.Stat(obj); err == nil {
		t.Error("an object was written without the sandbox")
	}

	t.Setenv(UnsafeCompileEnv, "1")
	if err := Compile(context.Background(), src, obj, nil); err != nil {
		t.Fatalf("with %s=1: %v", UnsafeCompileEnv, err)
	}
}

func TestCompileWithoutClang(t *testing.T) {
	needCompiler(t)
	t.Setenv("PATH", "/nonexistent")
	err := Compile(context.Background(), "x.bpf.c", filepath.Join(t.TempDir(), "x.o"), nil)
	if !errors.Is(err, ErrNoClang) {
		t.Errorf("without clang on PATH: got %v, want ErrNoClang", err)
	}
}

// TestSandboxLibraries: a library inside a directory already bound is not
// bound again (bwrap refuses to mount on the link it is there), but the
// file it links to is, wherever it is; a link outside is bound with its
// target.
func TestSandboxLibraries(t *testing.T) {
	d := t.TempDir()
	llvm, gnu := filepath.Join(d, "llvm-19"), filepath.Join(d, "gnu")
	for _, dir := range []string{filepath.Join(llvm, "lib"), gnu} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"libclang-cpp.so.19.1", "liby.so.1.2.3", "libz.so"} {
		if err := os.WriteFile(filepath.Join(gnu, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(llvm, "lib", "libclang-cpp.so.19.1"): "../../gnu/libclang-cpp.so.19.1",
		filepath.Join(gnu, "liby.so.1"):                    "liby.so.1.2.3",
	}
	for link, target := range links {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	got := addLibraries([]string{llvm}, []string{
		filepath.Join(llvm, "lib", "libclang-cpp.so.19.1"), filepath.Join(gnu, "liby.so.1"), filepath.Join(gnu, "libz.so"),
	})
	want := []string{llvm, filepath.Join(gnu, "libclang-cpp.so.19.1"), filepath.Join(gnu, "liby.so.1"),
		filepath.Join(gnu, "liby.so.1.2.3"), filepath.Join(gnu, "libz.so")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bound paths (-want +got):\n%s", diff)
	}
}
