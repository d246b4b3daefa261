package usdt

import (
	"bufio"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestOpen reads the probes of the target built every way and checks them
// against readelf, the bytes of the file, and the symbol table.
func TestOpen(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			exe, lib := build(t, v)
			f := checkFile(t, exe)
			if f.fixed() == v.pic {
				t.Errorf("fixed() = %v for a %s", f.fixed(), v.name)
			}
			checkProbes(t, f, v)
			if lib != "" {
				lf := checkFile(t, lib)
				if _, err := lf.Find("lab", "library"); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// checkFile opens path and checks what holds for every probe of every file.
func checkFile(t *testing.T, path string) *File {
	t.Helper()
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	got := f.Probes()
	if len(got) == 0 {
		t.Fatalf("%s: no probes", path)
	}
	if diff := cmp.Diff(readelfProbes(t, path), got, cmpopts.IgnoreFields(Probe{}, "Offset", "SemaphoreOffset")); diff != "" {
		t.Errorf("%s: probes differ from readelf -n (-readelf +Open):\n%s", path, diff)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p.Offset >= uint64(len(raw)) || raw[p.Offset] != 0x90 {
			t.Errorf("probe %s: no nop at file offset %#x", p, p.Offset)
		}
	}
	return f
}

func checkProbes(t *testing.T, f *File, v variant) {
	t.Helper()
	for _, p := range f.Probes() {
		args, err := p.Arguments()
		// gcc names a global variable by its symbol once it optimizes.
		if p.Name == "globals" && v.optimized() {
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "lab:globals") || !strings.Contains(err.Error(), "counter(%rip)") {
				t.Errorf("probe %s (%q): err %v, want ErrUnsupported naming the probe and the argument", p, p.Args, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("probe %s: %v", p, err)
		}
		switch p.Name {
		case "noargs":
			if len(args) != 0 {
				t.Errorf("probe %s: %d arguments", p, len(args))
			}
		case "constants":
			want := []Arg{{Kind: ArgConst, Size: 4, Signed: true, Value: 1234}, {Kind: ArgConst, Size: 4, Signed: true, Value: -5}}
			if diff := cmp.Diff(want, args); diff != "" {
				t.Errorf("probe %s: %s", p, diff)
			}
		case "sizes":
			var got []string
			for _, a := range args {
				got = append(got, fmt.Sprintf("%d/%v", a.Size, a.Signed))
			}
			want := "1/true 1/false 2/true 2/false 4/true 4/false 8/true 8/false"
			if strings.Join(got, " ") != want {
				t.Errorf("probe %s: sizes and signs %v, want %s", p, got, want)
			}
		}
	}
	if v.optimized() {
		// The volatile local, at least, is read from memory.
		mem, _ := f.Find("lab", "memory")
		if args, err := mem[0].Arguments(); err != nil || args[0].Kind != ArgRegDeref {
			t.Errorf("probe %s (%q): want the first argument in memory (%v)", mem[0], mem[0].Args, err)
		}
	}

	inlined, err := f.Find("lab", "inlined")
	if err != nil {
		t.Fatal(err)
	}
	if len(inlined) != 2 || inlined[0].Offset == inlined[1].Offset {
		t.Errorf("inlined probe: %+v, want two sites", inlined)
	}

	guarded, err := f.Find("lab", "guarded")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Probes() {
		if (p.SemaphoreOffset != 0) != (p.Name == "guarded") {
			t.Errorf("probe %s: semaphore offset %#x", p, p.SemaphoreOffset)
		}
	}
	ef, err := elf.Open(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name != "lab_guarded_semaphore" {
			continue
		}
		sec := ef.Sections[s.Section]
		want := sec.Offset + s.Value - sec.Addr
		if sec.Name != ".probes" || guarded[0].Semaphore != s.Value || guarded[0].SemaphoreOffset != want {
			t.Errorf("semaphore: probe has %#x at offset %#x; symbol in %s at %#x, offset %#x", guarded[0].Semaphore, guarded[0].SemaphoreOffset, sec.Name, s.Value, want)
		}
		return
	}
	t.Error("no symbol lab_guarded_semaphore")
}

// TestAddressIn runs the target and reads its memory where addressIn says
// the probes are: each is a nop, in the executable and in the library.
func TestAddressIn(t *testing.T) {
	for _, v := range []variant{variants[1], variants[3], variants[4], variants[5]} {
		t.Run(v.name, func(t *testing.T) {
			exe, lib := build(t, v)
			pid := start(t, exe)
			mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
			if err != nil {
				t.Skipf("cannot read the target's memory: %v", err)
			}
			defer mem.Close()
			for _, path := range []string{exe, lib} {
				if path == "" {
					continue
				}
				f, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range f.Probes() {
					addr, err := f.addressIn(pid, p.Offset)
					if err != nil {
						t.Fatalf("probe %s: %v", p, err)
					}
					b := make([]byte, 1)
					if _, err := mem.ReadAt(b, int64(addr)); err != nil || b[0] != 0x90 {
						t.Errorf("probe %s in %s: %#x at %#x (%v), want a nop", p, filepath.Base(path), b, addr, err)
					}
					if f.fixed() && addr != p.Address {
						t.Errorf("probe %s: address %#x in a fixed executable", p, addr)
					}
				}
			}
		})
	}
}

// start runs the target with "wait" until the test ends; it returns once
// the target has passed its probes.
func start(t *testing.T, exe string) int {
	t.Helper()
	cmd := exec.Command(exe, "wait")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("target said %q (%v)", line, err)
	}
	return cmd.Process.Pid
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text")
	if err := os.WriteFile(text, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(text); err == nil {
		t.Error("opened a text file")
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	obj := compileBPF(t)
	if _, err := Open(obj); err == nil || !strings.Contains(err.Error(), "x86-64") {
		t.Errorf("a BPF object: %v, want refused as not x86-64", err)
	}
}

func TestFindMissing(t *testing.T) {
	exe, _ := build(t, variants[1])
	f, err := Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Find("lab", "nosuch"); !errors.Is(err, ErrNoProbe) || !strings.Contains(err.Error(), "lab:nosuch") {
		t.Errorf("err %v, want ErrNoProbe naming lab:nosuch", err)
	}
}

func TestParseNote(t *testing.T) {
	note := func(name string, typ uint32, desc string) []byte {
		b := []byte{byte(len(name)), 0, 0, 0, byte(len(desc)), 0, 0, 0, byte(typ), 0, 0, 0}
		b = append(b, name...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		b = append(b, desc...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	addrs := "\x10\x00\x00\x00\x00\x00\x00\x00" + "\x20\x00\x00\x00\x00\x00\x00\x00" + "\x00\x00\x00\x00\x00\x00\x00\x00"
	good := note("stapsdt\x00", 3, addrs+"prov\x00name\x00-4@%edi\x00")
	p, rest, err := parseNote(append(good, note("GNU\x00", 1, "abcd")...))
	if err != nil || p == nil || len(rest) != 20 {
		t.Fatalf("parseNote: %+v %d %v", p, len(rest), err)
	}
	want := &Probe{Provider: "prov", Name: "name", Address: 0x10, Base: 0x20, Args: "-4@%edi"}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Error(diff)
	}
	if p, _, err := parseNote(rest); p != nil || err != nil {
		t.Errorf("another owner's note: %+v %v", p, err)
	}
	for name, b := range map[string][]byte{
		"truncated header": good[:8],
		"truncated desc":   good[:len(good)-8],
		"no NUL":           note("stapsdt\x00", 3, addrs+"prov\x00name\x00args"),
		"no name":          note("stapsdt\x00", 3, addrs+"prov\x00\x00\x00"),
		"short desc":       note("stapsdt\x00", 3, "\x00\x00"),
	} {
		if _, _, err := parseNote(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// TestPrelink moves every address in the notes of a built executable back
// by 0x1000, as notes look after prelink moved the file forward: the
// offsets must not change, because .stapsdt.base says how far to move.
func TestPrelink(t *testing.T) {
	exe, _ := build(t, variants[3])
	want, err := Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	sec := ef.Section(".note.stapsdt")
	ef.Close()
	const moved = 0x1000
	data := raw[sec.Offset : sec.Offset+sec.Size]
	for len(data) > 0 {
		namesz, descsz := align4(uint64(le.Uint32(data))), align4(uint64(le.Uint32(data[4:])))
		desc := data[12+namesz:]
		for i := 0; i < 3; i++ {
			if a := le.Uint64(desc[8*i:]); a != 0 {
				le.PutUint64(desc[8*i:], a-moved)
			}
		}
		data = data[12+namesz+descsz:]
	}
	prelinked := filepath.Join(t.TempDir(), "prelinked")
	if err := os.WriteFile(prelinked, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Open(prelinked)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range got.Probes() {
		w := want.Probes()[i]
		if p.Address != w.Address-moved || p.Offset != w.Offset || p.SemaphoreOffset != w.SemaphoreOffset {
			t.Errorf("probe %s: offsets %#x %#x, want %#x %#x", p, p.Offset, p.SemaphoreOffset, w.Offset, w.SemaphoreOffset)
		}
	}
}

var le = binary.LittleEndian
