package usdt

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// mappedAddress reads a /proc/PID/maps listing and returns the address of
// file offset off in the mapping of path that covers it: an executable
// mapping for code, or a writable one for data (a semaphore, which is where
// the kernel looks for it).
func mappedAddress(maps io.Reader, path string, off uint64, code bool) (uint64, error) {
	want, err := filepath.Abs(path)
	if err != nil {
		return 0, err
	}
	if real, err := filepath.EvalSymlinks(want); err == nil {
		want = real
	}
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		// 7f5c6f5d8000-7f5c6f5d9000 r-xp 00001000 103:01 362990598    /usr/lib/libfoo.so
		f := strings.SplitN(sc.Text(), " ", 6)
		if len(f) < 6 || strings.TrimLeft(f[5], " ") != want || len(f[1]) < 3 || code && f[1][2] != 'x' || !code && f[1][1] != 'w' {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		pgoff, err3 := strconv.ParseUint(f[2], 16, 64)
		if !ok || err1 != nil || err2 != nil || err3 != nil {
			return 0, fmt.Errorf("malformed maps line %q", sc.Text())
		}
		if pgoff <= off && off < pgoff+(end-start) {
			return start - pgoff + off, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	kind := "writable"
	if code {
		kind = "executable"
	}
	return 0, fmt.Errorf("no %s mapping of %s covers offset %#x", kind, want, off)
}
