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
// the virtio-serial port a warm start hands it its job through (see
// vmtest's warm starts). Kernels from 6.12 on build them in; 5.10 and 6.1
// ship them in their package.
var WarmModules = []string{"virtio", "virtio_ring", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci", "virtio_console"}

// ModulesDir is the directory beside a kernel image that holds its
// WarmModules, as 'bpflab kernels fetch' leaves it.
const ModulesDir = "modules"

// warmModule returns the file name to keep a package path under when it is
// one of WarmModules (with the compression suffix it has, if any).
func warmModule(name string) (string, bool) {
	name = path.Clean("/" + name)
	if !strings.Contains(name, "/lib/modules/") || !strings.Contains(name, "/kernel/drivers/") {
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

// extract copies the kernel image out of a package's data tar stream to
// dst, and each of WarmModules to keep. Symlinks are not images (some
// packages link vmlinuz to boot/).
func extract(data io.Reader, dst io.Writer, keep func(file string, r io.Reader) error) (string, error) {
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
		if file, ok := warmModule(hdr.Name); ok && keep != nil {
			if err := keep(file, tr); err != nil {
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

// ExtractDeb writes the kernel image inside the .deb at deb to dst, and the
// WarmModules it carries to ModulesDir beside dst (created even when the
// kernel builds them in). It uses dpkg-deb, which handles every
// compression Debian uses.
func ExtractDeb(deb, dst string) error {
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running dpkg-deb (install dpkg): %w", err)
	}
	tmp := dst + ".part"
	mods := filepath.Join(filepath.Dir(dst), ModulesDir)
	tmpMods := mods + ".part"
	f, err := os.Create(tmp)
	if err == nil {
		_ = os.RemoveAll(tmpMods)
		err = os.MkdirAll(tmpMods, 0o755)
	}
	if err != nil {
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		return err
	}
	defer os.Remove(tmp)
	defer os.RemoveAll(tmpMods)
	keep := func(file string, r io.Reader) error {
		return writeFile(filepath.Join(tmpMods, file), r)
	}
	_, xerr := extract(out, f, keep)
	cerr := f.Close()
	// Let dpkg-deb finish: it forks a decompressor that would be left
	// blocked on the pipe if the reader stopped early.
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if xerr != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" && werr != nil {
			return fmt.Errorf("%s: %w (dpkg-deb: %s)", deb, xerr, msg)
		}
		return fmt.Errorf("%s: %w", deb, xerr)
	}
	if cerr != nil {
		return cerr
	}
	_ = os.RemoveAll(mods)
	if err := os.Rename(tmpMods, mods); err != nil {
		return err
	}
	// The image last: its presence is what marks the kernel as cached.
	return os.Rename(tmp, dst)
}

func writeFile(p string, r io.Reader) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
