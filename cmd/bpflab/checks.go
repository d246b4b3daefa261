package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Checks of command-line values that would otherwise fail late: after a
// compile, a kernel download or a boot, or at the end of a grading run.
// Each is a usage error (exit 64) that names the value and what is
// expected.

// meminfoPath is where the host's memory is read; tests point it at a
// file of their own.
var meminfoPath = "/proc/meminfo"

// hostReserveMiB is the memory a guest leaves to the host: the kernel,
// QEMU's own use, and bpflab. --memory may be at most MemTotal less this.
const hostReserveMiB = 512

// meminfoMiB returns a field of /proc/meminfo (MemTotal, MemAvailable) in
// MiB, or 0 when it cannot be read.
func meminfoMiB(field string) int {
	b, err := os.ReadFile(meminfoPath)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		var kb int
		if _, err := fmt.Sscanf(l, field+": %d kB", &kb); err == nil {
			return kb / 1024
		}
	}
	return 0
}

// memoryLimitMiB is the most memory a guest may have on this host, or 0
// when the host's memory is unknown.
func memoryLimitMiB() int {
	total := meminfoMiB("MemTotal")
	if total == 0 {
		return 0
	}
	return max(total-hostReserveMiB, 0)
}

// checkMemory refuses a guest larger than the host can give: QEMU would
// start, and the guest or the host would run out of memory later.
func checkMemory(mib int) error {
	limit := memoryLimitMiB()
	if limit == 0 || mib <= limit {
		return nil
	}
	return usagef("--memory %d MiB is more than this host can give a guest: at most %d MiB (its %d MiB of RAM less %d MiB for the host)",
		mib, limit, limit+hostReserveMiB, hostReserveMiB)
}

// checkSource refuses a --src that is not a readable C file, before
// anything is compiled or booted. example is a file that would do.
func checkSource(p, example string) error {
	if p == "" {
		return usagef("--src needs a C file, such as %s", example)
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usagef("--src %s: no such file: pass a BPF C file, such as %s", p, example)
	case err != nil:
		return usagef("--src %s: %w", p, err)
	case fi.IsDir():
		if cs, _ := filepath.Glob(filepath.Join(p, "*.c")); len(cs) > 0 {
			return usagef("--src %s is a directory: pass a C file in it (%s)", p, strings.Join(cs, ", "))
		}
		return usagef("--src %s is a directory: pass a BPF C file, such as %s", p, example)
	case !fi.Mode().IsRegular():
		return usagef("--src %s is not a regular file: pass a BPF C file, such as %s", p, example)
	case !strings.HasSuffix(p, ".c"):
		return usagef("--src %s is not a C file: pass a file whose name ends in .c, such as %s", p, example)
	}
	f, err := os.Open(p)
	if err != nil {
		return usagef("--src %s: cannot read it: %w", p, err)
	}
	return f.Close()
}

// checkOutput refuses an output file (--json FILE) that could not be
// written at the end of the run: a directory, a file in a directory that
// does not exist, or one bpflab may not write. "-" is stdout. Nothing is
// created or changed.
func checkOutput(flagName, p string) error {
	if p == "" || p == "-" {
		return nil
	}
	fi, err := os.Stat(p)
	switch {
	case err == nil && fi.IsDir():
		return usagef("%s %s is a directory: pass a file name, such as %s", flagName, p, filepath.Join(p, "report.json"))
	case err == nil:
		if err := unix.Access(p, unix.W_OK); err != nil {
			return usagef("%s %s: cannot write it: %w", flagName, p, err)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR):
		return usagef("%s %s: %w", flagName, p, err)
	}
	dir := filepath.Dir(p)
	di, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usagef("%s %s: directory %s does not exist: create it, or pass a file in an existing directory", flagName, p, dir)
	case err != nil:
		return usagef("%s %s: %w", flagName, p, err)
	case !di.IsDir():
		return usagef("%s %s: %s is not a directory", flagName, p, dir)
	}
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return usagef("%s %s: cannot create files in %s: %w", flagName, p, dir, err)
	}
	return nil
}
