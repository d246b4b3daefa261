package kernels

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/bpflab/bpflab/internal/fileutil"
)

// ErrNoImage is returned for a package that holds no kernel image.
var ErrNoImage = errors.New("no kernel image in package")

// isImagePath reports whether a path inside a kernel package is the kernel
// image. Older packages ship boot/vmlinuz-RELEASE; newer ones (7.x) ship
// usr/lib/modules/RELEASE/vmlinuz in a linux-binary-* package.
func isImagePath(name string) bool {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if dir, file := path.Split(name); dir == "boot/" && strings.HasPrefix(file, "vmlinuz-") {
		return true
	}
	parts := strings.Split(name, "/")
	return len(parts) == 5 && parts[0] == "usr" && parts[1] == "lib" && parts[2] == "modules" && parts[4] == "vmlinuz"
}

// WarmModules are the modules a guest's init loads, in this order, to reach
// the virtio-serial ports a warm start hands it its job through and the
// host view answers on, and to mount the host view (FUSE and overlay; see
// vmtest). Kernels from 6.12 on build all but overlay in; 5.10 and 6.1
// ship them in their package, 7.x in its linux-modules package.
var WarmModules = []string{"virtio", "virtio_ring", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci", "virtio_console", "fuse", "overlay"}

// ModulesDir is the directory beside a kernel image that holds its
// WarmModules, as 'bpflab kernels fetch' leaves it.
const ModulesDir = "modules"

// warmModule returns the file name to keep a package path under when it is
// one of WarmModules (with the compression suffix it has, if any).
func warmModule(name string) (string, bool) {
	name = path.Clean("/" + name)
	if !strings.Contains(name, "/lib/modules/") || !strings.Contains(name, "/kernel/") {
		return "", false
	}
	file := path.Base(name)
	mod, _, _ := strings.Cut(file, ".ko")
	if !strings.Contains(file, ".ko") {
		return "", false
	}
	for _, m := range WarmModules {
		if m == mod {
			return file, true
		}
	}
	return "", false
}

// configFile returns the name to keep a package path under when it is the
// kernel's build configuration: config-RELEASE, as /boot names it.
// linux-image packages ship boot/config-RELEASE; from 7.x on it is
// usr/lib/modules/RELEASE/config in the linux-base package.
func configFile(name string) (string, bool) {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if dir, file := path.Split(name); dir == "boot/" && strings.HasPrefix(file, "config-") {
		return file, true
	}
	parts := strings.Split(name, "/")
	if len(parts) == 5 && parts[0] == "usr" && parts[1] == "lib" && parts[2] == "modules" && parts[4] == "config" {
		return "config-" + parts[3], true
	}
	return "", false
}

// TreeDir is where, beside the image, the kernel's whole module tree is
// kept: TreeDir/RELEASE, with the modules.* indexes depmod wrote.
const TreeDir = "usr/lib/modules"

// treeFile returns the path to keep a package path under when it belongs
// to the kernel's module tree (usr/lib/modules/RELEASE/...): the modules
// and the lists depmod reads, not the image.
func treeFile(name string) (string, bool) {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	rest, ok := strings.CutPrefix(name, "usr/")
	if !ok {
		rest = name
	}
	rest, ok = strings.CutPrefix(rest, "lib/modules/")
	if !ok || !strings.Contains(rest, "/") || path.Base(rest) == "vmlinuz" {
		return "", false
	}
	return path.Join(TreeDir, rest), true
}

// extract copies the kernel image out of a package's data tar stream to
// dst, and hands keep the files to keep beside it: the module tree (see
// treeFile), each of WarmModules also as modules/FILE, and the kernel's
// configuration as config-RELEASE. Symlinks are not images (some packages
// link vmlinuz to boot/).
func extract(data io.Reader, dst io.Writer, keep func(files []string, r io.Reader) error) (string, error) {
	tr := tar.NewReader(data)
	image := ""
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			if image == "" {
				return "", ErrNoImage
			}
			return image, nil
		}
		if err != nil {
			return "", fmt.Errorf("reading package contents: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		var files []string
		if file, ok := treeFile(hdr.Name); ok {
			files = append(files, file)
		}
		if file, ok := warmModule(hdr.Name); ok {
			files = append(files, path.Join(ModulesDir, file))
		}
		if file, ok := configFile(hdr.Name); ok {
			files = append(files, file)
		}
		if len(files) > 0 && keep != nil {
			if err := keep(files, tr); err != nil {
				return "", err
			}
			continue
		}
		if image != "" || !isImagePath(hdr.Name) {
			continue
		}
		if _, err := io.Copy(dst, tr); err != nil {
			return "", err
		}
		image = hdr.Name
	}
}

// ExtractDeb writes the kernel image inside the .deb at deb to dst, and
// beside it the WarmModules it carries (in ModulesDir, created even when
// the kernel builds them in) and its config-RELEASE if it has one. It uses
// dpkg-deb, which handles every compression Debian uses.
func ExtractDeb(deb, dst string) error {
	dir := filepath.Dir(dst)
	stage := filepath.Join(dir, ".extract")
	_ = os.RemoveAll(stage)
	defer os.RemoveAll(stage)
	if err := os.MkdirAll(filepath.Join(stage, ModulesDir), 0o755); err != nil {
		return err
	}
	tmp := dst + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	_, xerr := extractDeb(deb, f, stage)
	cerr := f.Close()
	if xerr != nil {
		return xerr
	}
	if cerr != nil {
		return cerr
	}
	if err := keepStaged(stage, dir); err != nil {
		return err
	}
	// The image last: its presence is what marks the kernel as cached.
	return os.Rename(tmp, dst)
}

// ExtractCompanion keeps, in dir, what a package without the image
// carries: config-RELEASE (linux-base, from 7.x on), and the module tree
// and WarmModules (linux-modules). It reports whether there was any.
func ExtractCompanion(deb, dir string) (bool, error) {
	stage := filepath.Join(dir, ".extract")
	_ = os.RemoveAll(stage)
	defer os.RemoveAll(stage)
	if err := os.MkdirAll(filepath.Join(stage, ModulesDir), 0o755); err != nil {
		return false, err
	}
	if _, err := extractDeb(deb, io.Discard, stage); err != nil && !errors.Is(err, ErrNoImage) {
		return false, err
	}
	kept, _ := filepath.Glob(filepath.Join(stage, "config-*"))
	mods, _ := filepath.Glob(filepath.Join(stage, ModulesDir, "*"))
	tree, _ := filepath.Glob(filepath.Join(stage, TreeDir, "*", "kernel"))
	if err := keepTree(stage, dir); err != nil {
		return false, err
	}
	for _, c := range append(kept, mods...) {
		rel, _ := filepath.Rel(stage, c)
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			return false, err
		}
		if err := os.Rename(c, filepath.Join(dir, rel)); err != nil {
			return false, err
		}
	}
	return len(kept)+len(mods)+len(tree) > 0, nil
}

// extractDeb runs extract on deb's contents, the image to dst and the
// files kept under stage.
func extractDeb(deb string, dst io.Writer, stage string) (string, error) {
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("running dpkg-deb (install dpkg): %w", err)
	}
	keep := func(files []string, r io.Reader) error {
		first := filepath.Join(stage, files[0])
		if err := writeFile(first, r); err != nil {
			return err
		}
		for _, f := range files[1:] {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(stage, f)), 0o755); err != nil {
				return err
			}
			if err := os.Link(first, filepath.Join(stage, f)); err != nil {
				return err
			}
		}
		return nil
	}
	image, xerr := extract(out, dst, keep)
	// Let dpkg-deb finish: it forks a decompressor that would be left
	// blocked on the pipe if the reader stopped early.
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if xerr != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" && werr != nil {
			return "", fmt.Errorf("%s: %w (dpkg-deb: %s)", deb, xerr, msg)
		}
		return "", fmt.Errorf("%s: %w", deb, xerr)
	}
	return image, nil
}

// keepStaged moves what extraction kept into the kernel's directory.
func keepStaged(stage, dir string) error {
	mods := filepath.Join(dir, ModulesDir)
	_ = os.RemoveAll(mods)
	if err := os.Rename(filepath.Join(stage, ModulesDir), mods); err != nil {
		return err
	}
	configs, _ := filepath.Glob(filepath.Join(stage, "config-*"))
	for _, c := range configs {
		if err := os.Rename(c, filepath.Join(dir, filepath.Base(c))); err != nil {
			return err
		}
	}
	return keepTree(stage, dir)
}

// keepTree moves the staged module tree into dir, merging it with what a
// companion package brought before.
func keepTree(stage, dir string) error {
	rels, _ := filepath.Glob(filepath.Join(stage, TreeDir, "*"))
	for _, r := range rels {
		dst := filepath.Join(dir, TreeDir, filepath.Base(r))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if _, err := os.Stat(dst); err != nil {
			if err := os.Rename(r, dst); err != nil {
				return err
			}
			continue
		}
		err := filepath.WalkDir(r, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(r, p)
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
				return err
			}
			return os.Rename(p, filepath.Join(dst, rel))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func writeFile(p string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return fileutil.Write(p, r, 0o644)
}
