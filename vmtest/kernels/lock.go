package kernels

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
)

// DefaultLock is the lock file committed next to this package.
//
//go:embed kernels.lock
var DefaultLock []byte

// Kernel is one pinned kernel of the matrix.
type Kernel struct {
	// Alias is the short name users type: 5.10, 6.1, 7.x.
	Alias string
	// Suite is the Debian suite that serves the package.
	Suite string
	// Package is the Debian package that contains the kernel image.
	Package string
	// Version is the package version.
	Version string
	// SHA256 is the hash of the .deb file.
	SHA256 string
	// Pattern is a glob over package names; `bpflab kernels update` picks
	// the newest package matching it in Suite.
	Pattern string
}

func (k Kernel) String() string { return fmt.Sprintf("%s (%s %s)", k.Alias, k.Package, k.Version) }

// Lock is the kernel matrix.
type Lock struct {
	Kernels []Kernel
	// Default is the alias used when none is given.
	Default string
}

// ErrUnknownKernel is returned for a --kernel value that names no kernel.
var ErrUnknownKernel = errors.New("unknown kernel")

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ParseLock reads a lock file: comments start with #, "default ALIAS" names
// the default, and every other line is
//
//	ALIAS SUITE PACKAGE VERSION SHA256 PATTERN
func ParseLock(r io.Reader) (*Lock, error) {
	l := &Lock{}
	sc := bufio.NewScanner(r)
	n := 0
	seen := map[string]bool{}
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if f[0] == "default" {
			if len(f) != 2 {
				return nil, fmt.Errorf("lock line %d: want 'default ALIAS'", n)
			}
			l.Default = f[1]
			continue
		}
		if len(f) != 6 {
			return nil, fmt.Errorf("lock line %d: want ALIAS SUITE PACKAGE VERSION SHA256 PATTERN, got %d fields", n, len(f))
		}
		k := Kernel{Alias: f[0], Suite: f[1], Package: f[2], Version: f[3], SHA256: f[4], Pattern: f[5]}
		if !sha256RE.MatchString(k.SHA256) {
			return nil, fmt.Errorf("lock line %d: %q is not a SHA256 in lowercase hex", n, k.SHA256)
		}
		if ok, err := path.Match(k.Pattern, k.Package); err != nil || !ok {
			return nil, fmt.Errorf("lock line %d: package %s does not match its pattern %s", n, k.Package, k.Pattern)
		}
		if k.Alias == "all" || k.Alias == "host" || strings.Contains(k.Alias, "/") {
			return nil, fmt.Errorf("lock line %d: %q cannot be an alias", n, k.Alias)
		}
		if seen[k.Alias] {
			return nil, fmt.Errorf("lock line %d: alias %s appears twice", n, k.Alias)
		}
		seen[k.Alias] = true
		l.Kernels = append(l.Kernels, k)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(l.Kernels) == 0 {
		return nil, errors.New("lock file lists no kernels")
	}
	if l.Default == "" {
		l.Default = l.Kernels[0].Alias
	}
	if _, err := l.Find(l.Default); err != nil {
		return nil, fmt.Errorf("lock file's default: %w", err)
	}
	return l, nil
}

// LoadLock reads the lock at p, or the embedded default if p is empty.
func LoadLock(p string) (*Lock, error) {
	if p == "" {
		return ParseLock(strings.NewReader(string(DefaultLock)))
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l, err := ParseLock(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return l, nil
}

// Find returns the kernel named by alias, or by a version prefix such as
// 7.3 or 6.1.176.
func (l *Lock) Find(name string) (Kernel, error) {
	for _, k := range l.Kernels {
		if k.Alias == name {
			return k, nil
		}
	}
	for _, k := range l.Kernels {
		if k.Version == name || strings.HasPrefix(k.Version, name+".") || strings.HasPrefix(k.Version, name+"-") {
			return k, nil
		}
	}
	return Kernel{}, fmt.Errorf("%w %q: use one of %s, all, or a path to a kernel image", ErrUnknownKernel, name, strings.Join(l.Aliases(), ", "))
}

// Aliases lists the aliases in lock order.
func (l *Lock) Aliases() []string {
	out := make([]string, len(l.Kernels))
	for i, k := range l.Kernels {
		out[i] = k.Alias
	}
	return out
}

// Format writes the lock in the form ParseLock reads, with a header.
func (l *Lock) Format(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprint(bw, lockHeader)
	fmt.Fprintf(bw, "default %s\n\n", l.Default)
	for _, k := range l.Kernels {
		fmt.Fprintf(bw, "%s %s %s %s %s %s\n", k.Alias, k.Suite, k.Package, k.Version, k.SHA256, k.Pattern)
	}
	return bw.Flush()
}

const lockHeader = `# bpflab kernel matrix: Debian stock cloud-amd64 kernels.
# One kernel a line: ALIAS SUITE PACKAGE VERSION SHA256 PATTERN
#   PACKAGE is the .deb holding the kernel image, SHA256 its hash, and
#   PATTERN the package names 'bpflab kernels update' picks the newest of.
# Rewritten by 'bpflab kernels update'; edit the aliases and patterns by hand.
`
