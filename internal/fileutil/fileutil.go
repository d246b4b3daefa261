// Package fileutil holds the file helpers more than one bpflab package needs.
package fileutil

import (
	"io"
	"os"
)

// Copy copies src to dst, creating or truncating dst with mode perm.
func Copy(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return Write(dst, in, perm)
}

// Write writes what r holds to dst, creating or truncating it with mode perm.
func Write(dst string, r io.Reader, perm os.FileMode) error {
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
