package usdt

import (
	"bytes"
	"debug/elf"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

func TestLoadCollectionSpec(t *testing.T) {
	obj := compileBPF(t)
	if _, err := ebpf.LoadCollectionSpec(obj); err == nil {
		t.Log("cilium/ebpf now reads weak maps: LoadCollectionSpec's rebinding is no longer needed")
	} else if !strings.Contains(err.Error(), "STB_WEAK") {
		t.Errorf("ebpf.LoadCollectionSpec: %v", err)
	}
	spec, err := LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Maps[SpecsMap] == nil || spec.Maps[IPMap] == nil || spec.Programs["on_probe"] == nil {
		t.Errorf("maps %v, programs %v", spec.Maps, spec.Programs)
	}
	if p := spec.Programs["on_probe"]; p.Type != ebpf.Kprobe {
		t.Errorf("SEC(\"usdt\") program of type %s", p.Type)
	}

	// Only the two maps' bindings change.
	raw, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := strongMaps(raw); err != nil {
		t.Fatal(err)
	}
	before, after := symbolsOf(t, mustRead(t, obj)), symbolsOf(t, raw)
	for i, s := range before {
		want := s.Info
		if s.Name == SpecsMap || s.Name == IPMap {
			want = byte(elf.ST_INFO(elf.STB_GLOBAL, elf.STT_OBJECT))
			if elf.ST_BIND(s.Info) != elf.STB_WEAK {
				t.Errorf("%s was not weak: %v", s.Name, elf.ST_BIND(s.Info))
			}
		}
		if after[i].Info != want {
			t.Errorf("%s: info %#x, want %#x", s.Name, after[i].Info, want)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func symbolsOf(t *testing.T, raw []byte) []elf.Symbol {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	return syms
}

// kconfigMarked reports whether cilium/ebpf v0.22 will fill the value ins
// loads from the kernel's configuration: it does so, while loading, for
// every instruction carrying its private kconfigMetaKey metadata, and only
// for those (linker.go, resolveKconfigReferences). The test reads the mark
// by reflection because nothing else can see it.
func kconfigMarked(ins *asm.Instruction) bool {
	e := reflect.ValueOf(ins.Metadata).FieldByName("head")
	for e.IsValid() && !e.IsNil() {
		el := e.Elem()
		if k := el.FieldByName("key"); !k.IsNil() && k.Elem().Type().Name() == "kconfigMetaKey" {
			return true
		}
		e = el.FieldByName("next")
	}
	return false
}

// TestPrepare checks that after Prepare nothing in the object sends
// cilium/ebpf to the kernel's configuration, which the guests do not have:
// no instruction carries its mark, every load of the extern reads the map
// Prepare added, and the map holds the value.
func TestPrepare(t *testing.T) {
	spec, err := LoadCollectionSpec(compileBPF(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := preparedCookie(spec); err == nil {
		t.Error("an object not prepared passes for prepared")
	}
	prog := spec.Programs["on_probe"]
	var loads []int
	var before []asm.Instruction
	for i := range prog.Instructions {
		ins := &prog.Instructions[i]
		if kconfigMarked(ins) != isKconfigLoad(ins) {
			t.Fatalf("instruction %d %v: marked %v, isKconfigLoad %v", i, ins, kconfigMarked(ins), isKconfigLoad(ins))
		}
		if isKconfigLoad(ins) {
			loads = append(loads, i)
			before = append(before, *ins)
		}
	}
	// usdt.bpf.h reads the extern in bpf_usdt_arg_cnt, bpf_usdt_cookie and
	// bpf_usdt_arg (inlined or not).
	if len(loads) < 3 {
		t.Fatalf("%d loads of %s, want at least 3", len(loads), cookieExtern)
	}
	n := len(prog.Instructions)

	for _, cookie := range []bool{true, false} {
		if err := Prepare(spec, cookie); err != nil {
			t.Fatal(err)
		}
		if len(prog.Instructions) != n {
			t.Fatalf("%d instructions, had %d", len(prog.Instructions), n)
		}
		for i := range prog.Instructions {
			if kconfigMarked(&prog.Instructions[i]) {
				t.Errorf("cookie %v: instruction %d still marked for the kernel config", cookie, i)
			}
		}
		for j, i := range loads {
			ins, old := &prog.Instructions[i], before[j]
			if ins.Reference() != kconfigMap || !ins.IsLoadFromMap() || ins.Src != asm.PseudoMapValue || ins.Dst != old.Dst || ins.Constant != 0 {
				t.Errorf("instruction %d: %v (reference %q), want a load of %s's value into %s", i, ins, ins.Reference(), kconfigMap, old.Dst)
			}
			if ins.Symbol() != old.Symbol() || btf.FuncMetadata(ins) != btf.FuncMetadata(&old) || ins.Source() != old.Source() {
				t.Errorf("instruction %d lost its metadata: symbol %q, %v, %v", i, ins.Symbol(), btf.FuncMetadata(ins), ins.Source())
			}
		}
		m := spec.Maps[kconfigMap]
		want := []byte{0}
		if cookie {
			want[0] = 1
		}
		if m.Name != kconfigMap || m.Type != ebpf.Array || m.MaxEntries != 1 || m.Flags != unix.BPF_F_RDONLY_PROG ||
			len(m.Contents) != 1 || !bytes.Equal(m.Contents[0].Value.([]byte), want) || m.Contents[0].Key != uint32(0) {
			t.Errorf("cookie %v: %s is %v with %v", cookie, kconfigMap, m, m.Contents)
		}
		if got, err := preparedCookie(spec); err != nil || got != cookie {
			t.Errorf("preparedCookie: %v %v, want %v", got, err, cookie)
		}
	}
	// The symbol marks where the functions of usdt.bpf.h begin: the first
	// instruction of bpf_usdt_cookie is a load of the extern.
	found := false
	for _, i := range loads {
		found = found || prog.Instructions[i].Symbol() == "bpf_usdt_cookie"
	}
	if !found {
		t.Error("no function starts with a load of the extern: the test no longer checks symbols")
	}
}

func TestPrepareRefusesOtherExterns(t *testing.T) {
	spec, err := LoadCollectionSpec(compileBPF(t, "-DEXTRA_KCONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	err = Prepare(spec, true)
	if err == nil || !strings.Contains(err.Error(), "LINUX_KERNEL_VERSION") {
		t.Errorf("err %v, want one naming LINUX_KERNEL_VERSION", err)
	}
	if spec.Maps[kconfigMap] != nil {
		t.Error("Prepare changed the spec it refused")
	}
}

func TestPrepareWithoutExtern(t *testing.T) {
	spec := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}}
	if err := Prepare(spec, true); err != nil || len(spec.Maps) != 0 {
		t.Errorf("no BTF: %v, maps %v", err, spec.Maps)
	}
}
