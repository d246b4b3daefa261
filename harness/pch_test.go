package harness

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestIncludedFirst(t *testing.T) {
	for _, tc := range []struct {
		src    string
		name   string
		quoted bool
	}{
		{"#include \"vmlinux.h\"\n#include <bpf/bpf_helpers.h>\n", "vmlinux.h", true},
		{"// SPDX-License-Identifier: GPL-2.0\n/* lab 1\n * a comment */\n\n  #  include <vmlinux.h> // types\nint x;\n", "vmlinux.h", false},
		{"#include \"vmlinux.h\" /* a comment */\n", "", false},
		{"#define BPF_NO_PRESERVE_ACCESS_INDEX\n#include \"vmlinux.h\"\n", "", false},
		{"// a comment that goes on \\\n#include \"vmlinux.h\"\n", "", false},
		{"/* never closed\n#include \"vmlinux.h\"\n", "", false},
		{"int x;\n#include \"vmlinux.h\"\n", "", false},
		{"#include \"vmlinux.h\" int x;\n", "", false},
		{"#include \"vmlinux.h", "", false},
		{"#includes \"vmlinux.h\"\n", "", false},
		{"", "", false},
	} {
		name, quoted := includedFirst([]byte(tc.src))
		if name != tc.name || quoted != tc.quoted {
			t.Errorf("includedFirst(%q) = %q, %v; want %q, %v", tc.src, name, quoted, tc.name, tc.quoted)
		}
	}
}

// TestCompilePrecompiledHeader: a lab's file compiles with vmlinux.h
// precompiled, kept in the cache, into the object it compiles to without;
// a file that does not compile gets clang's words on the file as written;
// one that defines something before the header is compiled as it is.
func TestCompilePrecompiledHeader(t *testing.T) {
	needCompiler(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	root := moduleRoot(t)
	incs := []string{filepath.Join(root, "labs", "lab-1"), filepath.Join(root, "bpf")}
	src := filepath.Join(root, "labs/lab-1/solution/openat.bpf.c")
	compile := func(t *testing.T, src string, pch bool) ([]byte, error) {
		t.Helper()
		usePCH = pch
		defer func() { usePCH = true }()
		obj := filepath.Join(t.TempDir(), "out.o")
		err := Compile(context.Background(), src, obj, incs)
		b, _ := os.ReadFile(obj)
		return b, err
	}
	with, err := compile(t, src, true)
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := filepath.Glob(filepath.Join(pchDir(), "*.pch"))
	if len(kept) != 1 {
		t.Fatalf("precompiled headers in the cache: %v, want one", kept)
	}
	without, err := compile(t, src, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(with, without) {
		t.Errorf("the object differs with the precompiled header (%d bytes) and without (%d)", len(with), len(without))
	}

	dir := t.TempDir()
	bad := writeSrc(t, dir, "bad.bpf.c", "#include \"vmlinux.h\"\nint f(struct task_struct *t) { return t->no_such_field; }\n")
	_, errWith := compile(t, bad, true)
	_, errWithout := compile(t, bad, false)
	var a, b *CompileError
	if !errors.As(errWith, &a) || !errors.As(errWithout, &b) || a.Msg != b.Msg {
		t.Errorf("clang's words differ with the precompiled header:\n%v\nand without:\n%v", errWith, errWithout)
	}

	// The definition changes what vmlinux.h means: with the header
	// precompiled first, it would come too late.
	first := writeSrc(t, dir, "first.bpf.c", "#define task_struct my_task\n#include \"vmlinux.h\"\nint f(struct my_task *t) { return t->pid; }\n")
	if _, err := compile(t, first, true); err != nil {
		t.Errorf("a file that defines a macro before vmlinux.h: %v", err)
	}
}
