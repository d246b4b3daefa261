package usdt

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// The maps usdt.bpf.h defines, by name in CollectionSpec.Maps and Collection.Maps.
const (
	SpecsMap = "__bpf_usdt_specs"
	IPMap    = "__bpf_usdt_ip_to_spec_id"
)

// cookieExtern is the __kconfig extern through which usdt.bpf.h asks
// whether the kernel has BPF cookies.
const cookieExtern = "LINUX_HAS_BPF_COOKIE"

// kconfigMap is the map Prepare adds to hold the externs' values. It has
// the name cilium/ebpf gives the map it would create itself, which makes
// cilium/ebpf freeze it after filling it: a frozen read-only map is what
// lets the verifier see the value as a constant and skip the branch a
// kernel cannot verify (bpf_get_attach_cookie before 5.15).
const kconfigMap = ".kconfig"

// LoadCollectionSpec reads a BPF object as ebpf.LoadCollectionSpec does,
// after making usdt.bpf.h's two maps, which it declares __weak, global:
// cilium/ebpf v0.22 refuses a weak map ("unsupported binding:
// STB_WEAK"). In a single object a weak definition is no different from a
// global one. It also makes the object's hidden functions (usdt.bpf.h's
// bpf_usdt_arg and siblings) static, as libbpf does, so the verifier checks
// them within their callers.
func LoadCollectionSpec(path string) (*ebpf.CollectionSpec, error) {
	obj, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := strongMaps(obj); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	hidden, err := hiddenFuncs(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		return nil, err
	}
	makeStatic(spec, hidden)
	return spec, nil
}

// hiddenFuncs are the object's global functions of hidden visibility:
// usdt.bpf.h declares bpf_usdt_arg and its siblings __weak __hidden.
func hiddenFuncs(obj []byte) (map[string]bool, error) {
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return nil, err
	}
	syms, err := f.Symbols()
	if errors.Is(err, elf.ErrNoSymbols) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	hidden := map[string]bool{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && elf.ST_BIND(s.Info) != elf.STB_LOCAL && elf.ST_VISIBILITY(s.Other) == elf.STV_HIDDEN {
			hidden[s.Name] = true
		}
	}
	return hidden, nil
}

// makeStatic gives the functions named static linkage in the programs'
// type information, as libbpf does for hidden functions: the verifier
// then checks them with the types their callers pass (a pointer the
// caller made valid) instead of alone, where usdt.bpf.h's bpf_usdt_arg
// fails ("R3 invalid mem access 'mem_or_null'" for its long *res).
func makeStatic(spec *ebpf.CollectionSpec, names map[string]bool) {
	for _, p := range spec.Programs {
		for i := range p.Instructions {
			ins := &p.Instructions[i]
			fn := btf.FuncMetadata(ins)
			if fn == nil || !names[fn.Name] || fn.Linkage == btf.StaticFunc {
				continue
			}
			static := *fn
			static.Linkage = btf.StaticFunc
			*ins = btf.WithFuncMetadata(*ins, &static)
		}
	}
}

// strongMaps rebinds usdt.bpf.h's weak map symbols as global, in place.
func strongMaps(obj []byte) error {
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return err
	}
	syms, err := f.Symbols()
	if errors.Is(err, elf.ErrNoSymbols) {
		return nil
	}
	if err != nil {
		return err
	}
	symtab := f.SectionByType(elf.SHT_SYMTAB)
	if f.Class != elf.ELFCLASS64 || symtab == nil || symtab.Entsize != 24 {
		return errors.New("not a 64-bit BPF object with a symbol table")
	}
	for i, s := range syms {
		if (s.Name != SpecsMap && s.Name != IPMap) || elf.ST_BIND(s.Info) != elf.STB_WEAK {
			continue
		}
		// Symbols() leaves out the null symbol 0; st_info is byte 4 of an Elf64_Sym.
		at := symtab.Offset + uint64(i+1)*symtab.Entsize + 4
		if at >= uint64(len(obj)) || obj[at] != s.Info {
			return fmt.Errorf("symbol %s is not where the symbol table says", s.Name)
		}
		obj[at] = byte(elf.ST_INFO(elf.STB_GLOBAL, elf.ST_TYPE(s.Info)))
	}
	return nil
}

// Prepare gives usdt.bpf.h's `extern const _Bool LINUX_HAS_BPF_COOKIE __kconfig`
// the value hasCookie, so that loading spec needs no kernel configuration
// file: cilium/ebpf v0.22 fills only LINUX_KERNEL_VERSION and
// LINUX_HAS_SYSCALL_WRAPPER itself and looks for /boot/config-* or
// /proc/config.gz for any other __kconfig extern.
//
// Prepare adds a frozen read-only map named ".kconfig" holding the value and
// points every load of the extern at it. It modifies spec; calling it
// again changes the value. It does nothing for an object without the extern,
// and refuses one with other __kconfig externs, which it cannot tell apart
// from this one in cilium/ebpf's instructions. Call it before loading spec,
// with what [HaveCookie] found on the kernel that will run the program.
func Prepare(spec *ebpf.CollectionSpec, hasCookie bool) error {
	if spec.Types == nil {
		return nil
	}
	var ds *btf.Datasec
	if err := spec.Types.TypeByName(".kconfig", &ds); errors.Is(err, btf.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("reading .kconfig: %w", err)
	}
	var v *btf.VarSecinfo
	var others []string
	for i := range ds.Vars {
		if name := ds.Vars[i].Type.TypeName(); name == cookieExtern {
			v = &ds.Vars[i]
		} else {
			others = append(others, name)
		}
	}
	if v == nil {
		return nil
	}
	if len(others) > 0 {
		return fmt.Errorf("the object declares the __kconfig externs %s besides %s; Prepare supports objects whose only __kconfig extern is %s",
			strings.Join(others, ", "), cookieExtern, cookieExtern)
	}
	if vt, ok := v.Type.(*btf.Var); !ok || !isInt(vt.Type) || v.Size == 0 || v.Size > 8 || v.Offset+v.Size > ds.Size {
		return fmt.Errorf("__kconfig extern %s is %v, not a boolean", cookieExtern, v.Type)
	}
	type rewrite struct {
		at  *asm.Instruction
		new asm.Instruction
	}
	var rewrites []rewrite
	for name, p := range spec.Programs {
		for i := range p.Instructions {
			if ins := &p.Instructions[i]; isKconfigLoad(ins) {
				n, err := loadFrom(ins, kconfigMap, v.Offset)
				if err != nil {
					return fmt.Errorf("program %s, instruction %d: %w", name, i, err)
				}
				rewrites = append(rewrites, rewrite{ins, n})
			}
		}
	}
	for _, r := range rewrites {
		*r.at = r.new
	}
	if spec.Maps == nil {
		spec.Maps = map[string]*ebpf.MapSpec{}
	}
	value := make([]byte, ds.Size)
	if hasCookie {
		value[v.Offset] = 1 // little-endian, whatever its size
	}
	spec.Maps[kconfigMap] = &ebpf.MapSpec{
		Name:       kconfigMap,
		Type:       ebpf.Array,
		KeySize:    4,
		ValueSize:  ds.Size,
		MaxEntries: 1,
		Flags:      unix.BPF_F_RDONLY_PROG,
		Contents:   []ebpf.MapKV{{Key: uint32(0), Value: value}},
	}
	return nil
}

func isInt(t btf.Type) bool {
	_, ok := btf.UnderlyingType(t).(*btf.Int)
	return ok
}

// isKconfigLoad reports whether ins loads the address of a __kconfig
// extern: cilium/ebpf marks those as a load from a map value with neither a
// map nor a map name, which it fills in while loading.
func isKconfigLoad(ins *asm.Instruction) bool {
	return ins.IsLoadFromMap() && ins.Src == asm.PseudoMapValue && ins.Reference() == "" && ins.Map() == nil
}

// loadFrom returns ins made into a load of the address of byte off of the
// value of the map called name. It is a new instruction, which drops
// cilium/ebpf's private mark of a __kconfig load, carrying over the
// metadata that can be on such a load: the function it starts, its BTF and
// its source line.
func loadFrom(ins *asm.Instruction, name string, off uint32) (asm.Instruction, error) {
	if btf.CORERelocationMetadata(ins) != nil {
		return asm.Instruction{}, errors.New("a load of " + cookieExtern + " with a CO-RE relocation")
	}
	n := asm.Instruction{
		OpCode:   ins.OpCode,
		Dst:      ins.Dst,
		Src:      asm.PseudoMapValue,
		Offset:   ins.Offset,
		Constant: int64(uint64(off) << 32), // the offset goes in the upper half
	}.WithReference(name)
	if sym := ins.Symbol(); sym != "" {
		n = n.WithSymbol(sym)
	}
	if fn := btf.FuncMetadata(ins); fn != nil {
		n = btf.WithFuncMetadata(n, fn)
	}
	if src := ins.Source(); src != nil {
		n = n.WithSource(src)
	}
	return n, nil
}

// HaveCookie reports whether the running kernel can pass a BPF cookie to a
// uprobe program (bpf_get_attach_cookie, Linux 5.15), by loading a tiny
// kprobe program that calls the helper: it needs the privileges loading
// does. Without cookies, [Manager.Attach] falls back to usdt.bpf.h's table
// of instruction addresses.
func HaveCookie() (bool, error) {
	err := features.HaveProgramHelper(ebpf.Kprobe, asm.FnGetAttachCookie)
	if errors.Is(err, ebpf.ErrNotSupported) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("probing for BPF cookies: %w", err)
	}
	return true, nil
}
