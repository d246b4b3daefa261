package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, configName)
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	newFlags := func() (*flag.FlagSet, *vmFlags) {
		fs := flag.NewFlagSet("exec", flag.ContinueOnError)
		var vf vmFlags
		vf.register(fs)
		return fs, &vf
	}
	t.Setenv("BPFLAB_CONFIG", conf)

	write("# comment\nmemory = 1024 # trailing\ncpus=2\nboot-timeout = 90s\nparallel = 3\n")
	fs, vf := newFlags()
	if err := vf.parse(fs, []string{"--cpus", "4"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if vf.memory != 1024 || vf.cpus != 4 || vf.bootTimeout != 90*time.Second {
		t.Errorf("memory %d cpus %d boot %v: want 1024 from the file, 4 from the flag, 90s", vf.memory, vf.cpus, vf.bootTimeout)
	}

	for name, tc := range map[string]struct{ body, msg string }{
		"unknown option": {"colour = blue\n", `unknown option "colour"`},
		"bad value":      {"memory = lots\n", "memory = lots"},
		"no equals":      {"memory\n", "want 'name = value'"},
		"too small":      {"memory = 16\n", "too small"},
	} {
		t.Run(name, func(t *testing.T) {
			write(tc.body)
			fs, vf := newFlags()
			err := vf.parse(fs, nil, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v, want an error with %q", err, tc.msg)
			}
		})
	}
}

// The committed bpflab.conf holds every option at its built-in default.
func TestCommittedConfigIsDefaults(t *testing.T) {
	t.Setenv("BPFLAB_CONFIG", filepath.Join("..", "..", configName))
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var rf runFlags
	rf.register(fs)
	vf := &rf.vmFlags
	def := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { def[f.Name] = f.Value.String() })
	if err := vf.parse(fs, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "..", configName))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range configKeys() {
		if !strings.Contains(string(b), "\n"+k+" =") {
			t.Errorf("bpflab.conf does not document %s", k)
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(configKeys(), f.Name) && f.Value.String() != def[f.Name] {
			t.Errorf("bpflab.conf sets %s = %s, the built-in default is %s", f.Name, f.Value, def[f.Name])
		}
	})
}
