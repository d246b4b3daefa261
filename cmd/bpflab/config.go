package main

import (
	"bufio"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// configName is the file of defaults for the VM flags. The committed one at
// the top of the source tree documents every option at its default.
const configName = "bpflab.conf"

// findConfig returns $BPFLAB_CONFIG, or the nearest bpflab.conf in the
// working directory or its parents, or "".
func findConfig() string {
	if p := os.Getenv("BPFLAB_CONFIG"); p != "" {
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		p := filepath.Join(d, configName)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}

// applyConfig sets flag defaults from a config file of "name = value"
// lines; # starts a comment. Names are the flags' names; a name that the
// command does not have is ignored, one that no command has is an error.
func applyConfig(fs *flag.FlagSet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return usagef("reading config %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return usagef("%s:%d: want 'name = value'", path, n)
		}
		if !slices.Contains(configKeys(), k) {
			return usagef("%s:%d: unknown option %q (options: %s)", path, n, k, strings.Join(configKeys(), ", "))
		}
		if fs.Lookup(k) == nil {
			continue
		}
		if err := fs.Set(k, v); err != nil {
			return usagef("%s:%d: %s = %s: %v", path, n, k, v, err)
		}
	}
	return sc.Err()
}

// configKeys are the options bpflab.conf may set: the guest's, and the
// number of kernels run at once.
func configKeys() []string {
	var keys []string
	for _, o := range vmOptions() {
		if o.conf {
			keys = append(keys, o.name)
		}
	}
	return append(keys, "parallel")
}

// parse applies the config file, then the command line, which wins, and
// checks the values. -h prints help to help.
func (v *vmFlags) parse(fs *flag.FlagSet, args []string, help io.Writer) error {
	if err := applyConfigFile(fs); err != nil {
		return err
	}
	if err := parseFlags(fs, args, help); err != nil {
		return err
	}
	return v.check()
}

// applyConfigFile applies the nearest config file, if there is one.
func applyConfigFile(fs *flag.FlagSet) error {
	if p := findConfig(); p != "" {
		return applyConfig(fs, p)
	}
	return nil
}

// check refuses values no guest can boot with, before anything is done.
func (v *vmFlags) check() error {
	if v.memory < 64 {
		return usagef("--memory %d MiB is too small for a guest: use 128 or more", v.memory)
	}
	if err := checkMemory(v.memory); err != nil {
		return err
	}
	if v.cpus < 1 {
		return usagef("--cpus must be at least 1")
	}
	return nil
}
