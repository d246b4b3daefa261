package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpflab/bpflab/harness/usdt"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/google/go-cmp/cmp"
)

func TestParseRelocation(t *testing.T) {
	for _, c := range []struct {
		in   string
		kind string
		id   btf.TypeID
		ok   bool
	}{
		{`CORERelocation(byte_off, Struct:"trace_event_raw_sys_enter"[0:2:1], local_id=12)`, "byte_off", 12, true},
		{`CORERelocation(target_type_id, Struct:"task_struct"[0], local_id=7)`, "target_type_id", 7, true},
		{`CORERelocation(byte_off, Struct:"a, b"[0], local_id=x)`, "", 0, false},
		{`Relocation(byte_off, local_id=1)`, "", 0, false},
	} {
		kind, id, ok := parseRelocation(c.in)
		if kind != c.kind || id != c.id || ok != c.ok {
			t.Errorf("parseRelocation(%q) = %q, %d, %v; want %q, %d, %v", c.in, kind, id, ok, c.kind, c.id, c.ok)
		}
	}
	if got := essentialName("nf_conn___init"); got != "nf_conn" {
		t.Errorf("essentialName(nf_conn___init) = %q", got)
	}
	if got := essentialName("___slab_alloc"); got != "___slab_alloc" {
		t.Errorf("essentialName(___slab_alloc) = %q", got)
	}
}

// flavors is a C file whose relocations cover what CO-RE matches by: a
// local type with a flavor, a field that may not exist, an enum value, a
// type's existence and size.
const flavors = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct___old { long state; } __attribute__((preserve_access_index));

SEC("tracepoint/syscalls/sys_enter_openat")
int probe(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	long n = ctx->args[1];
	if (bpf_core_field_exists(((struct task_struct___old *)t)->state))
		n += BPF_CORE_READ((struct task_struct___old *)t, state);
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_ktime_get_ns))
		n += bpf_core_enum_value(enum bpf_func_id, BPF_FUNC_ktime_get_ns);
	if (bpf_core_type_exists(struct nf_conn))
		n += bpf_core_type_size(struct nf_conn);
	n += BPF_CORE_READ(t, mm, total_vm);
	return n;
}

char LICENSE[] SEC("license") = "GPL";
`

// typeIDKernel needs the kernel's own type IDs.
const typeIDKernel = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

SEC("tracepoint/syscalls/sys_enter_openat")
int probe(void *ctx)
{
	return bpf_core_type_id_kernel(struct task_struct);
}

char LICENSE[] SEC("license") = "GPL";
`

// TestKernelTypesRelocateAlike relocates each lab's reference and starter,
// and files that use every kind of match, against the whole kernel BTF of
// this host and against the types a grader cuts for them: the fixups must
// be the same.
func TestKernelTypesRelocateAlike(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles every lab's files: skipped under -short")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skip("this host's kernel has no BTF")
	}
	needCompiler(t)
	root := moduleRoot(t)
	dir := t.TempDir()
	srcs, err := filepath.Glob(filepath.Join(root, "labs", "lab-*", "*.bpf.c"))
	if err != nil {
		t.Fatal(err)
	}
	sols, _ := filepath.Glob(filepath.Join(root, "labs", "lab-*", "solution", "*.bpf.c"))
	srcs = append(srcs, sols...)
	for name, text := range map[string]string{"flavors.bpf.c": flavors, "type-id.bpf.c": typeIDKernel} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, p)
	}

	kt, err := newKernelTypes()
	if err != nil {
		t.Fatal(err)
	}
	defer kt.close()
	kt.once.Do(kt.load)
	if kt.err != nil {
		t.Fatal(kt.err)
	}
	checked := 0
	for i, src := range srcs {
		incs := []string{filepath.Join(root, "bpf")}
		if lab := filepath.Dir(src); strings.HasPrefix(filepath.Base(lab), "lab-") {
			incs = append(incs, lab)
		} else if filepath.Base(lab) == "solution" {
			incs = append(incs, filepath.Dir(lab))
		}
		obj := filepath.Join(dir, fmt.Sprintf("%d.o", i))
		if err := Compile(context.Background(), src, obj, incs); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		read := ebpf.LoadCollectionSpec
		if strings.Contains(src, "lab-4") {
			read = usdt.LoadCollectionSpec // as lab 4 reads its objects
		}
		spec, err := read(obj)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		names, ok := relocationRoots(spec)
		if filepath.Base(src) == "type-id.bpf.c" {
			if ok {
				t.Errorf("%s: a target_type_id relocation was cut for (%v)", src, names)
			}
			continue
		}
		if !ok {
			t.Errorf("%s: cannot tell its relocations' roots", src)
			continue
		}
		if len(names) == 0 {
			continue
		}
		p, err := kt.file(names)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		cut := readRawBTF(t, p)
		for _, prog := range spec.Programs {
			var relos []*btf.CORERelocation
			for j := range prog.Instructions {
				if r := btf.CORERelocationMetadata(&prog.Instructions[j]); r != nil {
					relos = append(relos, r)
				}
			}
			if len(relos) == 0 {
				continue
			}
			fixups := func(targets []*btf.Spec) []string {
				b, _ := btf.NewBuilder(nil, nil)
				fs, err := btf.CORERelocate(relos, targets, spec.ByteOrder, b.Add)
				if err != nil {
					return []string{"error: " + err.Error()}
				}
				var out []string
				for _, f := range fs {
					out = append(out, f.String())
				}
				return out
			}
			want, got := fixups(kt.targets), fixups([]*btf.Spec{cut})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s, %s: fixups against the cut types differ (-whole +cut):\n%s", filepath.Base(src), prog.Name, diff)
			}
			checked++
		}
		if filepath.Base(src) == "flavors.bpf.c" {
			for _, n := range []string{"task_struct___old", "nf_conn", "bpf_func_id", "trace_event_raw_sys_enter"} {
				if !slices.Contains(names, n) {
					t.Errorf("flavors.bpf.c's roots %v lack %s", names, n)
				}
			}
		}
	}
	if checked < 8 {
		t.Errorf("only %d programs with relocations compared", checked)
	}
}

// TestKernelTypesFlavors cuts the types for a local type with a flavor
// from a kernel whose types have flavors too: every type of the same
// essential name is a candidate, and nothing else.
func TestKernelTypesFlavors(t *testing.T) {
	u32 := &btf.Int{Name: "u32", Size: 4}
	mk := func(name string, n int) *btf.Struct {
		s := &btf.Struct{Name: name, Size: uint32(4 * n)}
		for i := range n {
			s.Members = append(s.Members, btf.Member{Name: fmt.Sprintf("f%d", i), Type: u32, Offset: btf.Bits(32 * i)})
		}
		return s
	}
	b, err := btf.NewBuilder([]btf.Type{mk("foo", 1), mk("foo___v2", 2), mk("bar", 3), mk("____fput", 1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vmlinux")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	kernel := readRawBTF(t, path)
	kt, err := newKernelTypes()
	if err != nil {
		t.Fatal(err)
	}
	defer kt.close()
	kt.once.Do(func() {}) // the kernel is this one
	kt.targets = []*btf.Spec{kernel}
	kt.flavored = map[string][]string{}
	if err := flavoredNames(path, kt.flavored); err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{"foo": {"foo___v2"}, "_": {"____fput"}}; !cmp.Equal(kt.flavored, want) {
		t.Errorf("flavored = %v, want %v", kt.flavored, want)
	}
	p, err := kt.file([]string{"foo___mine"})
	if err != nil {
		t.Fatal(err)
	}
	cut := readRawBTF(t, p)
	var got []string
	for typ, err := range cut.All() {
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := typ.(*btf.Struct); ok {
			got = append(got, typ.TypeName())
		}
	}
	slices.Sort(got)
	if want := []string{"foo", "foo___v2"}; !slices.Equal(got, want) {
		t.Errorf("cut for foo___mine: %v, want %v", got, want)
	}
	if _, err := kt.file(slices.Repeat([]string{"x"}, maxTypeNames+1)); err == nil {
		t.Errorf("%d names were answered", maxTypeNames+1)
	}
}

// readRawBTF reads a file of raw BTF, as a worker reads the grader's.
func readRawBTF(t *testing.T, path string) *btf.Spec {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := btf.LoadSpecFromReader(f)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return s
}
