package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// ErrNoProbe is returned when a file has no probe of the given provider and name.
var ErrNoProbe = errors.New("no such USDT probe")

// Probe is one USDT probe site: one note in .note.stapsdt. A probe that the
// compiler inlined or copied has one site per copy, with the same provider
// and name.
type Probe struct {
	Provider, Name string
	// Address, Base and Semaphore are the note's: the link-time address of
	// the probe's nop, of the .stapsdt.base section, and of the semaphore
	// (0 if the probe has none).
	Address, Base, Semaphore uint64
	// Args describes the arguments, e.g. "-4@%edi 8@-16(%rbp)". See [ParseArgs].
	Args string
	// Offset is the nop's offset in the file, after correcting Address for
	// prelink: what link.UprobeOptions.Address wants.
	Offset uint64
	// SemaphoreOffset is the semaphore's offset in the file, corrected the
	// same way (0 if none): what link.UprobeOptions.RefCtrOffset wants.
	SemaphoreOffset uint64
}

func (p Probe) String() string {
	return fmt.Sprintf("%s:%s at %#x", p.Provider, p.Name, p.Address)
}

// Arguments parses the probe's argument string; an error names the probe.
func (p Probe) Arguments() ([]Arg, error) {
	args, err := ParseArgs(p.Args)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", p, err)
	}
	return args, nil
}

// File is an executable or shared library and the USDT probes in it.
type File struct {
	path   string
	typ    elf.Type
	segs   []segment
	probes []Probe
}

// segment is a PT_LOAD program header.
type segment struct {
	vaddr, memsz, filesz, off uint64
	flags                     elf.ProgFlag
}

// Open reads the USDT probes of an x86-64 ELF executable or shared library.
// A file without probes is not an error.
func Open(path string) (*File, error) {
	ef, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading USDT probes: %w", err)
	}
	defer ef.Close()
	f, err := read(path, ef)
	if err != nil {
		return nil, fmt.Errorf("reading USDT probes of %s: %w", path, err)
	}
	return f, nil
}

func read(path string, ef *elf.File) (*File, error) {
	if ef.Class != elf.ELFCLASS64 || ef.Data != elf.ELFDATA2LSB || ef.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("not a little-endian 64-bit x86-64 file (%s, %s, %s)", ef.Class, ef.Data, ef.Machine)
	}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return nil, fmt.Errorf("%s is neither an executable nor a shared library", ef.Type)
	}
	f := &File{path: path, typ: ef.Type}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD {
			f.segs = append(f.segs, segment{p.Vaddr, p.Memsz, p.Filesz, p.Off, p.Flags})
		}
	}
	notes := ef.Section(".note.stapsdt")
	if notes == nil {
		return f, nil
	}
	if notes.Type != elf.SHT_NOTE {
		return nil, fmt.Errorf(".note.stapsdt is %s, not a note section", notes.Type)
	}
	data, err := notes.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .note.stapsdt: %w", err)
	}
	// Prelink moves sections but leaves notes alone: the distance it moved
	// .stapsdt.base is how far every address in a note must move too.
	var base uint64
	if s := ef.Section(".stapsdt.base"); s != nil {
		base = s.Addr
	}
	for size := len(data); len(data) > 0; {
		p, rest, err := parseNote(data)
		if err != nil {
			return nil, fmt.Errorf(".note.stapsdt at byte %d: %w", size-len(data), err)
		}
		data = rest
		if p == nil {
			continue
		}
		shift := uint64(0)
		if base != 0 && p.Base != 0 {
			shift = base - p.Base
		}
		seg, ok := f.segment(p.Address + shift)
		if !ok || seg.flags&elf.PF_X == 0 {
			return nil, fmt.Errorf("probe %s: not in an executable segment", p)
		}
		p.Offset = p.Address + shift - seg.vaddr + seg.off
		if p.Semaphore != 0 {
			// The kernel finds the semaphore through the file's writable
			// private mapping, so it must lie in the file, not in .bss.
			seg, ok := f.segment(p.Semaphore + shift)
			if !ok || seg.flags&elf.PF_W == 0 || p.Semaphore+shift >= seg.vaddr+seg.filesz {
				return nil, fmt.Errorf("probe %s: semaphore %#x is not in a writable segment's file contents", p, p.Semaphore)
			}
			p.SemaphoreOffset = p.Semaphore + shift - seg.vaddr + seg.off
		}
		f.probes = append(f.probes, *p)
	}
	return f, nil
}

// parseNote parses the note at the start of data and returns the rest; the
// probe is nil for a note that is not a probe.
func parseNote(data []byte) (*Probe, []byte, error) {
	if len(data) < 12 {
		return nil, nil, errors.New("truncated note header")
	}
	namesz := uint64(binary.LittleEndian.Uint32(data[0:]))
	descsz := uint64(binary.LittleEndian.Uint32(data[4:]))
	typ := binary.LittleEndian.Uint32(data[8:])
	descAt := 12 + align4(namesz)
	end := descAt + align4(descsz)
	if end > uint64(len(data)) {
		return nil, nil, errors.New("truncated note")
	}
	name, desc, rest := data[12:12+namesz], data[descAt:descAt+descsz], data[end:]
	if string(name) != "stapsdt\x00" || typ != 3 {
		return nil, rest, nil
	}
	// Three addresses, then provider, name and arguments, each ending in NUL.
	if len(desc) < 3*8 {
		return nil, nil, errors.New("probe note too short")
	}
	p := &Probe{
		Address:   binary.LittleEndian.Uint64(desc[0:]),
		Base:      binary.LittleEndian.Uint64(desc[8:]),
		Semaphore: binary.LittleEndian.Uint64(desc[16:]),
	}
	var strs [3]string
	s := desc[24:]
	for i := range strs {
		n := bytes.IndexByte(s, 0)
		if n < 0 {
			return nil, nil, errors.New("probe note strings are not NUL-terminated")
		}
		strs[i], s = string(s[:n]), s[n+1:]
	}
	p.Provider, p.Name, p.Args = strs[0], strs[1], strs[2]
	if p.Provider == "" || p.Name == "" {
		return nil, nil, errors.New("probe note without provider or name")
	}
	return p, rest, nil
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// segment returns the loadable segment that maps the link-time address addr.
func (f *File) segment(addr uint64) (segment, bool) {
	for _, s := range f.segs {
		if s.vaddr <= addr && addr < s.vaddr+s.memsz {
			return s, true
		}
	}
	return segment{}, false
}

// Path is the file's path as given to Open.
func (f *File) Path() string { return f.path }

// Probes returns every probe site in the file, in note order.
func (f *File) Probes() []Probe { return append([]Probe(nil), f.probes...) }

// Find returns every site of the probe provider:name, or an error wrapping
// ErrNoProbe.
func (f *File) Find(provider, name string) ([]Probe, error) {
	var sites []Probe
	for _, p := range f.probes {
		if p.Provider == provider && p.Name == name {
			sites = append(sites, p)
		}
	}
	if len(sites) == 0 {
		return nil, fmt.Errorf("%w: %s:%s in %s", ErrNoProbe, provider, name, f.path)
	}
	return sites, nil
}

// fixed reports whether the file's addresses are the addresses it runs at
// (an ET_EXEC executable) rather than relative to where it is loaded.
func (f *File) fixed() bool { return f.typ == elf.ET_EXEC }

// addressIn returns the address at which the byte at file offset off runs:
// the link-time address for a fixed executable, or, for a
// position-independent file, where process pid mapped it.
func (f *File) addressIn(pid int, off uint64) (uint64, error) {
	if f.fixed() {
		for _, s := range f.segs {
			if s.off <= off && off < s.off+s.filesz {
				return s.vaddr + off - s.off, nil
			}
		}
		return 0, fmt.Errorf("offset %#x is in no segment of %s", off, f.path)
	}
	maps, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, fmt.Errorf("finding %s in process %d: %w", f.path, pid, err)
	}
	defer maps.Close()
	addr, err := mappedAddress(maps, f.path, off, true)
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	return addr, nil
}
