package vmtest

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotExecutable is returned for a payload that is not an ELF executable
// or script the guest can run.
var ErrNotExecutable = errors.New("not an executable")

// libDirs are the places the dynamic loader searches on Debian-like systems
// after RPATH, LD_LIBRARY_PATH and RUNPATH.
var libDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

// SharedDeps returns the host paths a dynamically linked ELF needs at run
// time: its interpreter and, transitively, its DT_NEEDED libraries. A static
// binary needs nothing and returns an empty list. Scripts return their
// interpreter (the #! line) and its dependencies.
func SharedDeps(exe string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	var walk func(p string, top bool) error
	walk = func(p string, top bool) error {
		if seen[p] {
			return nil
		}
		seen[p] = true
		f, err := elf.Open(p)
		if err != nil {
			if top {
				return scriptDeps(p, walk)
			}
			return fmt.Errorf("reading library %s: %w", p, err)
		}
		defer f.Close()
		if top && f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
			return fmt.Errorf("%s: %w (ELF type %v)", p, ErrNotExecutable, f.Type)
		}
		if !top {
			out = append(out, p)
		}
		for _, prog := range f.Progs {
			if prog.Type != elf.PT_INTERP {
				continue
			}
			b := make([]byte, prog.Filesz)
			if _, err := prog.ReadAt(b, 0); err != nil {
				return fmt.Errorf("reading interpreter of %s: %w", p, err)
			}
			interp := strings.TrimRight(string(b), "\x00")
			if err := walk(interp, false); err != nil {
				return err
			}
		}
		needed, err := f.DynString(elf.DT_NEEDED)
		if err != nil || len(needed) == 0 {
			return nil // static
		}
		dirs := searchDirs(f, filepath.Dir(p))
		for _, lib := range needed {
			found := ""
			for _, d := range dirs {
				c := filepath.Join(d, lib)
				if _, err := os.Stat(c); err == nil {
					found = c
					break
				}
			}
			if found == "" {
				return fmt.Errorf("%s needs %s, which is not on this host", p, lib)
			}
			if err := walk(found, false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(exe, true); err != nil {
		return nil, err
	}
	return out, nil
}

func searchDirs(f *elf.File, origin string) []string {
	var dirs []string
	expand := func(list []string) {
		for _, l := range list {
			for _, d := range strings.Split(l, ":") {
				if d != "" {
					dirs = append(dirs, strings.ReplaceAll(d, "$ORIGIN", origin))
				}
			}
		}
	}
	rpath, _ := f.DynString(elf.DT_RPATH)
	expand(rpath)
	expand([]string{os.Getenv("LD_LIBRARY_PATH")})
	runpath, _ := f.DynString(elf.DT_RUNPATH)
	expand(runpath)
	return append(dirs, libDirs...)
}

// scriptDeps handles a #! script: the interpreter must travel too.
func scriptDeps(p string, walk func(string, bool) error) error {
	b := make([]byte, 256)
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, _ := f.Read(b)
	b = b[:n]
	if !strings.HasPrefix(string(b), "#!") {
		return fmt.Errorf("%s: %w (neither ELF nor a #! script)", p, ErrNotExecutable)
	}
	line, _, _ := strings.Cut(string(b[2:]), "\n")
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return fmt.Errorf("%s: %w (empty #! line)", p, ErrNotExecutable)
	}
	interp := fields[0]
	// The interpreter is a dependency of the script: add it like a library.
	if err := walk(interp, false); err != nil {
		return err
	}
	return nil
}
