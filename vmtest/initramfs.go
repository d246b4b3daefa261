package vmtest

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cavaliergopher/cpio"
)

// Initramfs collects the files of a guest's root file system and writes
// them as an uncompressed newc cpio archive, the format the kernel unpacks
// into its rootfs at boot. Parent directories are created implicitly.
type Initramfs struct {
	entries map[string]entry
}

type entry struct {
	mode    cpio.FileMode
	data    []byte // for files given as bytes
	src     string // for files copied from the host
	size    int64
	symlink string
}

// NewInitramfs returns an empty archive.
func NewInitramfs() *Initramfs {
	return &Initramfs{entries: map[string]entry{}}
}

func clean(p string) (string, error) {
	c := path.Clean("/" + p)
	if c == "/" {
		return "", fmt.Errorf("invalid archive path %q", p)
	}
	return c[1:], nil
}

func (r *Initramfs) mkdirAll(dir string) {
	for dir != "." && dir != "" {
		if _, ok := r.entries[dir]; ok {
			return
		}
		r.entries[dir] = entry{mode: cpio.TypeDir | 0o755}
		dir = path.Dir(dir)
	}
}

// Dir adds a directory.
func (r *Initramfs) Dir(name string) error {
	n, err := clean(name)
	if err != nil {
		return err
	}
	r.mkdirAll(n)
	return nil
}

// Bytes adds a regular file with the given contents and permissions.
func (r *Initramfs) Bytes(name string, data []byte, perm fs.FileMode) error {
	n, err := clean(name)
	if err != nil {
		return err
	}
	r.mkdirAll(path.Dir(n))
	r.entries[n] = entry{mode: cpio.TypeReg | cpio.FileMode(perm.Perm()), data: data, size: int64(len(data))}
	return nil
}

// Symlink adds a symbolic link.
func (r *Initramfs) Symlink(name, target string) error {
	n, err := clean(name)
	if err != nil {
		return err
	}
	r.mkdirAll(path.Dir(n))
	r.entries[n] = entry{mode: cpio.TypeSymlink | 0o777, symlink: target, size: int64(len(target))}
	return nil
}

// File adds the host file src at name. Symlinks are followed: the archive
// holds the target's contents under name.
func (r *Initramfs) File(name, src string) error {
	n, err := clean(name)
	if err != nil {
		return err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", src)
	}
	r.mkdirAll(path.Dir(n))
	r.entries[n] = entry{mode: cpio.TypeReg | cpio.FileMode(fi.Mode().Perm()), src: src, size: fi.Size()}
	return nil
}

// Tree adds the host directory src at name, recursively. Entries for which
// skip returns true are left out (skip may be nil). Symlinks inside the tree
// are kept as symlinks.
func (r *Initramfs) Tree(name, src string, skip func(rel string, d fs.DirEntry) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel != "." && skip != nil && skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		dst := path.Join(name, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			return r.Dir(dst)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return r.Symlink(dst, target)
		case d.Type().IsRegular():
			return r.File(dst, p)
		}
		return nil // sockets, devices: nothing a payload reads
	})
}

// WriteTo writes the archive. Entries come in lexical order, so parents
// precede their children and the output is reproducible.
func (r *Initramfs) WriteTo(w io.Writer) (int64, error) {
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	cw := &countWriter{w: w}
	cp := cpio.NewWriter(cw)
	for i, n := range names {
		e := r.entries[n]
		hdr := &cpio.Header{
			Name:  n,
			Mode:  e.mode,
			Size:  e.size,
			Links: 1,
			Inode: int64(i + 1),
		}
		if e.mode&cpio.ModeType == cpio.TypeDir {
			hdr.Links = 2
			hdr.Size = 0
		}
		if err := cp.WriteHeader(hdr); err != nil {
			return cw.n, fmt.Errorf("writing %s: %w", n, err)
		}
		if err := r.writeBody(cp, e); err != nil {
			return cw.n, fmt.Errorf("writing %s: %w", n, err)
		}
	}
	if err := cp.Close(); err != nil {
		return cw.n, err
	}
	return cw.n, nil
}

func (r *Initramfs) writeBody(w io.Writer, e entry) error {
	switch {
	case e.mode&cpio.ModeType == cpio.TypeSymlink:
		_, err := io.WriteString(w, e.symlink)
		return err
	case e.src != "":
		f, err := os.Open(e.src)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.Copy(w, io.LimitReader(f, e.size))
		if err == nil && n != e.size {
			err = fmt.Errorf("%s changed size while being archived", e.src)
		}
		return err
	default:
		_, err := w.Write(e.data)
		return err
	}
}

// Has reports whether name is in the archive.
func (r *Initramfs) Has(name string) bool {
	n, err := clean(name)
	if err != nil {
		return false
	}
	_, ok := r.entries[n]
	return ok
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// isUnder reports whether p is dir or below it.
func isUnder(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}
