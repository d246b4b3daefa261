// Package fileutil holds the file helpers more than one bpflab package needs.
package fileutil

import (
	"fmt"
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

// Replace writes what r holds to dst through a temporary file beside it,
// renamed over dst once complete: a reader sees the old file or the new
// one, never part of one, and of two processes replacing dst at once one
// wins whole.
func Replace(dst string, r io.Reader, perm os.FileMode) error {
	tmp := fmt.Sprintf("%s.tmp%d", dst, os.Getpid())
	err := Write(tmp, r, perm)
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}
