package harness

// Kernel types for CO-RE, cut to what one object relocates against.
//
// To load a program whose instructions carry CO-RE relocations,
// cilium/ebpf parses the kernel's BTF (/sys/kernel/btf/vmlinux, some
// 130,000 types) and the loaded modules': under TCG 0.2-0.3 s of a vCPU
// in every worker, since each submission loads in a process of its own.
// When a guest grades several submissions, the grader parses them once
// and answers each worker's request with the types its relocations can
// match: every type of the kernel or a module whose name, without a
// flavor (the part from the last "___"), is a relocation's local type's,
// as cilium/ebpf looks candidates up, with the types they refer to. The
// worker relocates against those (ebpf.ProgramOptions.KernelTypes): the
// same candidates, so the same result. A worker sends names only: the
// grader never reads what a student wrote.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// kernelTypesEnv tells a worker that its grader answers requests for
// kernel types on its stdin.
const kernelTypesEnv = "BPFLAB_KERNEL_TYPES"

// A worker asks for the types of at most maxTypeNames names, each at most
// maxTypeName bytes long, and gets at most maxKernelTypes bytes of BTF:
// a lab's program relocates against a handful of types, and an object
// that asks for more relocates against the whole kernel BTF, as without
// the grader's help.
const (
	maxTypeNames   = 64
	maxTypeName    = 256
	maxKernelTypes = 4 << 20
)

// relocationRoots returns the names of the local types the programs' CO-RE
// relocations start from, sorted. It returns false when a relocation needs
// the kernel's own type IDs (bpf_core_type_id_kernel), which only the whole
// kernel BTF has, or when it cannot tell.
func relocationRoots(spec *ebpf.CollectionSpec) ([]string, bool) {
	var names []string
	for _, p := range spec.Programs {
		for i := range p.Instructions {
			relo := btf.CORERelocationMetadata(&p.Instructions[i])
			if relo == nil {
				continue
			}
			kind, id, ok := parseRelocation(relo.String())
			if !ok || kind == "target_type_id" || spec.Types == nil {
				return nil, false
			}
			typ, err := spec.Types.TypeByID(id)
			if err != nil {
				return nil, false
			}
			if name := typ.TypeName(); name != "" && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names, true
}

// parseRelocation reads the kind and the local type's ID from a
// relocation's String: "CORERelocation(KIND, TYPE[ACCESSOR], local_id=ID)".
func parseRelocation(s string) (kind string, id btf.TypeID, ok bool) {
	rest, found := strings.CutPrefix(s, "CORERelocation(")
	if !found {
		return "", 0, false
	}
	kind, _, found = strings.Cut(rest, ", ")
	i := strings.LastIndex(rest, "local_id=")
	if !found || i < 0 || !strings.HasSuffix(rest, ")") {
		return "", 0, false
	}
	n, err := strconv.ParseUint(rest[i+len("local_id="):len(rest)-1], 10, 32)
	if err != nil {
		return "", 0, false
	}
	return kind, btf.TypeID(n), true
}

// essentialName is name without its flavor, as CO-RE matches names.
func essentialName(name string) string {
	if i := strings.LastIndex(name, "___"); i > 0 {
		return name[:i]
	}
	return name
}

// kernelTypes answers workers' requests: it parses the kernel's BTF once,
// and writes each set of types it cuts to a file of its directory. The
// grader supervises one worker at a time, so it is asked one request at a
// time.
type kernelTypes struct {
	dir     string
	once    sync.Once
	err     error
	targets []*btf.Spec
	// flavored maps an essential name to the kernel's names that have
	// it with a flavor (nf_conn___init for nf_conn).
	flavored map[string][]string
	made     map[string]string
}

func newKernelTypes() (*kernelTypes, error) {
	dir, err := os.MkdirTemp("", "bpflab-kernel-types-")
	if err != nil {
		return nil, err
	}
	return &kernelTypes{dir: dir, made: map[string]string{}}, nil
}

func (k *kernelTypes) close() { os.RemoveAll(k.dir) }

// load parses the kernel's BTF and the loaded modules', as cilium/ebpf
// does to relocate a program.
func (k *kernelTypes) load() {
	c := btf.NewCache()
	kernel, err := c.Kernel()
	if err != nil {
		k.err = err
		return
	}
	k.targets = []*btf.Spec{kernel}
	k.flavored = map[string][]string{}
	files := []string{"/sys/kernel/btf/vmlinux"}
	mods, err := c.Modules()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		k.err = err
		return
	}
	for _, m := range mods {
		s, err := c.Module(m)
		if err != nil {
			k.err = fmt.Errorf("module %s: %w", m, err)
			return
		}
		k.targets = append(k.targets, s)
		files = append(files, filepath.Join("/sys/kernel/btf", m))
	}
	for _, f := range files {
		if err := flavoredNames(f, k.flavored); err != nil {
			k.err = err
			return
		}
	}
}

// flavoredNames adds the names with a flavor in the string table of the
// raw BTF file path to flavored, by their essential name.
func flavoredNames(path string, flavored map[string][]string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// struct btf_header: magic, version, flags, hdr_len, type_off,
	// type_len, str_off, str_len.
	if len(raw) < 24 || binary.NativeEndian.Uint16(raw) != 0xeb9f {
		return fmt.Errorf("%s: not BTF", path)
	}
	hdr := binary.NativeEndian.Uint32(raw[4:])
	off, n := binary.NativeEndian.Uint32(raw[16:]), binary.NativeEndian.Uint32(raw[20:])
	start, end := uint64(hdr)+uint64(off), uint64(hdr)+uint64(off)+uint64(n)
	if end > uint64(len(raw)) {
		return fmt.Errorf("%s: string table out of bounds", path)
	}
	for s := range bytes.SplitSeq(raw[start:end], []byte{0}) {
		if i := bytes.LastIndex(s, []byte("___")); i > 0 {
			e := string(s[:i])
			if !slices.Contains(flavored[e], string(s)) {
				flavored[e] = append(flavored[e], string(s))
			}
		}
	}
	return nil
}

// file returns a raw BTF file with the kernel's types for names.
func (k *kernelTypes) file(names []string) (string, error) {
	if len(names) == 0 || len(names) > maxTypeNames {
		return "", fmt.Errorf("%d type names: want 1 to %d", len(names), maxTypeNames)
	}
	for _, n := range names {
		if n == "" || len(n) > maxTypeName {
			return "", fmt.Errorf("a type name of %d bytes", len(n))
		}
	}
	k.once.Do(k.load)
	if k.err != nil {
		return "", k.err
	}
	key := strings.Join(names, "\x00")
	if p, ok := k.made[key]; ok {
		return p, nil
	}
	b, err := btf.NewBuilder(nil, nil)
	if err != nil {
		return "", err
	}
	// AnyTypesByName(name) gives every type named name, and maybe some
	// other types of its essential name: asking for the essential name
	// and each of its flavored names gives exactly the types of the
	// essential name, the candidates cilium/ebpf would weigh.
	for _, n := range names {
		e := essentialName(n)
		for _, t := range k.targets {
			for _, name := range append([]string{e}, k.flavored[e]...) {
				types, err := t.AnyTypesByName(name)
				if errors.Is(err, btf.ErrNotFound) {
					continue
				}
				if err != nil {
					return "", err
				}
				for _, typ := range types {
					if _, err := b.Add(typ); err != nil {
						return "", err
					}
				}
			}
		}
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		return "", err
	}
	if len(raw) > maxKernelTypes {
		return "", fmt.Errorf("%d bytes of types", len(raw))
	}
	p := filepath.Join(k.dir, fmt.Sprintf("%d.btf", len(k.made)))
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		return "", err
	}
	k.made[key] = p
	return p, nil
}

// stdinReader reads a worker's stdin, where its grader answers.
var stdinReader = sync.OnceValue(func() *bufio.Reader { return bufio.NewReader(os.Stdin) })

// kernelTypesAnswer is the grader's answer to a worker's request.
type kernelTypesAnswer struct {
	Path  string `json:"path,omitempty"`
	Error string `json:"error,omitempty"`
}

// answer writes the answer to names to a worker's stdin.
func (k *kernelTypes) answer(w io.Writer, names []string) {
	var a kernelTypesAnswer
	if p, err := k.file(names); err != nil {
		a.Error = err.Error()
	} else {
		a.Path = p
	}
	b, _ := json.Marshal(a)
	_, _ = w.Write(append(b, '\n')) // a worker that is gone reads nothing
}

// askKernelTypes is a worker's request to its grader: the kernel's types
// for names, or an error, and then the worker relocates against the whole
// kernel BTF.
func askKernelTypes(names []string) (*btf.Spec, error) {
	writeLine(workerLine{KernelTypes: names})
	line, err := stdinReader().ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var a kernelTypesAnswer
	if err := json.Unmarshal(line, &a); err != nil {
		return nil, err
	}
	if a.Error != "" {
		return nil, errors.New(a.Error)
	}
	f, err := os.Open(a.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return btf.LoadSpecFromReader(f)
}
