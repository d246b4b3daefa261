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

// extractImage copies the kernel image out of a package's data tar stream.
// Symlinks are not images (some packages link vmlinuz to boot/).
func extractImage(data io.Reader, dst io.Writer) (string, error) {
	tr := tar.NewReader(data)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return "", ErrNoImage
		}
		if err != nil {
			return "", fmt.Errorf("reading package contents: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg || !isImagePath(hdr.Name) {
			continue
		}
		if _, err := io.Copy(dst, tr); err != nil {
			return "", err
		}
		return hdr.Name, nil
	}
}

// ExtractDeb writes the kernel image inside the .deb at deb to dst. It
// uses dpkg-deb, which handles every compression Debian uses.
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
	f, err := os.Create(tmp)
	if err != nil {
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		return err
	}
	defer os.Remove(tmp)
	_, xerr := extractImage(out, f)
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
	return os.Rename(tmp, dst)
}
