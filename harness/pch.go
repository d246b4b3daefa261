package harness

// Precompiled vmlinux.h. Every lab's BPF file starts by including
// vmlinux.h, 2.5 MB of the kernel's types: parsing it is about nine
// tenths of clang's work on a lab's file. Compile hands clang that
// header precompiled instead (clang -include-pch), built once per header
// and clang and kept in the cache, when doing so cannot change what the
// file means: its first line of code includes the header, found in one
// of the lab's include directories. The object is the same byte for
// byte. A file that does not compile with it is compiled again without
// it, so a student reads clang's own words on the file as written.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bpflab/bpflab/internal/fileutil"
	"github.com/bpflab/bpflab/vmtest/kernels"
)

// pchHeader is the header precompiled.
const pchHeader = "vmlinux.h"

// usePCH is false in tests that compile without it, to compare.
var usePCH = true

// maxPCH bounds the precompiled headers kept (13 MB each); the least
// recently built go first.
const maxPCH = 4

// pchDir is where the precompiled headers live.
func pchDir() string { return filepath.Join(kernels.DefaultDir(), "pch") }

// includedFirst returns the header named by src's first line of code when
// that line is an #include, with whether it was written with quotes; ""
// for anything else (a definition, code, a line continued with a
// backslash, an unfinished comment).
func includedFirst(src []byte) (name string, quoted bool) {
	s := src
	for {
		s = bytes.TrimLeft(s, " \t\r\n\f\v")
		switch {
		case bytes.HasPrefix(s, []byte("//")):
			i := bytes.IndexByte(s, '\n')
			if i < 0 || bytes.HasSuffix(bytes.TrimRight(s[:i], " \t\r"), []byte(`\`)) {
				return "", false
			}
			s = s[i:]
			continue
		case bytes.HasPrefix(s, []byte("/*")):
			i := bytes.Index(s[2:], []byte("*/"))
			if i < 0 {
				return "", false
			}
			s = s[2+i+2:]
			continue
		}
		break
	}
	line, _, _ := bytes.Cut(s, []byte("\n"))
	l := strings.TrimSpace(strings.TrimSuffix(string(line), "\r"))
	rest, ok := strings.CutPrefix(l, "#")
	if !ok {
		return "", false
	}
	rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " \t"), "include")
	if !ok {
		return "", false
	}
	rest = strings.TrimLeft(rest, " \t")
	if len(rest) < 2 || (rest[0] != '"' && rest[0] != '<') {
		return "", false
	}
	end := byte('"')
	if rest[0] == '<' {
		end = '>'
	}
	i := strings.IndexByte(rest[1:], end)
	if i < 0 {
		return "", false
	}
	if tail := strings.TrimSpace(rest[i+2:]); tail != "" && !strings.HasPrefix(tail, "//") {
		return "", false
	}
	return rest[1 : i+1], rest[0] == '"'
}

// pchFor returns the precompiled header to compile src with, building it
// if need be, or "" when src is compiled as it is. quoteDir is the
// directory searched first for a quoted include (the file's own, when it
// is searched), includes the -I directories in order; flags are clang's
// options that shape the header's meaning (target, definitions, debug
// information, optimisation).
func pchFor(ctx context.Context, clang string, flags []string, src []byte, quoteDir string, includes []string) string {
	name, quoted := includedFirst(src)
	if !usePCH || name != pchHeader {
		return ""
	}
	search := includes
	if quoted && quoteDir != "" {
		search = append([]string{quoteDir}, includes...)
	}
	header := ""
	for _, d := range search {
		p := filepath.Join(d, pchHeader)
		if fi, err := os.Lstat(p); err == nil {
			if fi.Mode().IsRegular() {
				header = p
			}
			break
		}
	}
	// Only a header of the lab's include directories is compiled
	// outside the sandbox.
	if header == "" || !underAny(filepath.Dir(header), includes) || filepath.Dir(header) == quoteDir && !slices.Contains(includes, quoteDir) {
		return ""
	}
	key, err := pchKey(clang, flags, header)
	if err != nil {
		return ""
	}
	pch := filepath.Join(pchDir(), key+".pch")
	if isFile(pch) {
		now := time.Now()
		_ = os.Chtimes(pch, now, now) // recently used: trimmed last
		return pch
	}
	if err := buildPCH(ctx, clang, flags, header, pch); err != nil {
		return ""
	}
	return pch
}

// pchKey names a precompiled header by clang (its path, size and time),
// the flags, and the header (its path, size and time: clang checks the
// last two when it reads the precompiled one).
func pchKey(clang string, flags []string, header string) (string, error) {
	h := sha256.New()
	for _, p := range []string{clang, header} {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
	}
	fmt.Fprintf(h, "%q\n", flags)
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// buildPCH precompiles header into pch (atomically: another grading may
// read it meanwhile) and trims the directory.
func buildPCH(ctx context.Context, clang string, flags []string, header, pch string) error {
	dir := filepath.Dir(pch)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".build-*")
	if err != nil {
		return err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	args := append(append([]string{}, flags...), "-x", "c-header", header, "-o", tmp.Name())
	if out, err := exec.CommandContext(ctx, clang, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("precompiling %s: %v: %s", header, err, out)
	}
	f, err := os.Open(tmp.Name())
	if err != nil {
		return err
	}
	err = fileutil.Replace(pch, f, 0o644)
	f.Close()
	if err != nil {
		return err
	}
	trimDir(dir, maxPCH)
	return nil
}

// trimDir removes all but the keep most recently changed files of dir,
// leaving alone those being written (named .*).
func trimDir(dir string, keep int) {
	ents, _ := os.ReadDir(dir)
	if len(ents) <= keep {
		return
	}
	type kept struct {
		path string
		at   int64
	}
	var all []kept
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			all = append(all, kept{filepath.Join(dir, e.Name()), fi.ModTime().UnixNano()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at > all[j].at })
	for i := keep; i < len(all); i++ {
		os.Remove(all[i].path)
	}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// CompileCache is a directory of the cache that compiling keeps.
type CompileCache struct{ Name, Dir string }

// CompileCaches are the lab programs BuildC built and the precompiled
// headers.
func CompileCaches() []CompileCache {
	return []CompileCache{{"built programs", builtDir()}, {"precompiled headers", pchDir()}}
}
