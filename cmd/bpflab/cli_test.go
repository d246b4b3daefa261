package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/vmtest/kernels"
)

// These tests call run as main does, on the host: none of them boots a
// guest. Every command that could boot is given a kernel image that does
// not exist, so a check that stops failing ends in exit 65 (kernel
// missing) instead of a boot.

const noKernel = "/nonexistent/vmlinuz"

// runCLI runs bpflab's run with args and returns its stdout, its stderr
// (with the error main would print) and the exit code main would return.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	code := exitCode(err, false, &stderr)
	return stdout.String(), stderr.String(), code
}

// hermetic makes the tests independent of the developer's bpflab.conf and
// environment, and of the host's memory: the host has 4 GiB.
func hermetic(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "bpflab.conf")
	meminfo := filepath.Join(dir, "meminfo")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(meminfo, []byte("MemTotal:        4194304 kB\nMemFree:         1000000 kB\nMemAvailable:    2097152 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BPFLAB_CONFIG", conf)
	t.Setenv("BPFLAB_KERNEL", "")
	t.Setenv("BPFLAB_LOCK", "")
	old := meminfoPath
	meminfoPath = meminfo
	t.Cleanup(func() { meminfoPath = old })
}

func TestHelp(t *testing.T) {
	hermetic(t)
	commands := []string{"bpflab exec ", "bpflab run ", "bpflab grade LAB", "bpflab shell ", "bpflab kernels fetch", "bpflab kernels list", "bpflab kernels update", "bpflab help"}
	gradeFlags := []string{"usage: bpflab grade LAB [flags]", "-src FILE", "-solution", "-kernel string", "-json FILE", "-seed uint", "-memory int", "-parallel int", "\n  -v\t"}
	var labLines []string
	for id, lab := range labs {
		labLines = append(labLines, id+"  "+lab.Title)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		want    [][]string
		notWant []string
	}{
		{"-h", []string{"-h"}, [][]string{commands, labLines}, nil},
		{"--help", []string{"--help"}, [][]string{commands, labLines}, nil},
		{"help", []string{"help"}, [][]string{commands, labLines}, nil},
		{"grade -h", []string{"grade", "-h"}, [][]string{gradeFlags, labLines}, []string{"-verbose"}},
		{"grade --help", []string{"grade", "--help"}, [][]string{gradeFlags, labLines}, []string{"-verbose"}},
		{"grade LAB -h", []string{"grade", "lab-1", "-h"}, [][]string{gradeFlags, labLines}, []string{"-verbose"}},
		{"grade LAB flags -h", []string{"grade", "lab-2", "--kernel", noKernel, "--memory", "1024", "-h"}, [][]string{gradeFlags, labLines}, []string{"-verbose", `default "/nonexistent`}},
		{"help grade", []string{"help", "grade"}, [][]string{gradeFlags, labLines}, []string{"-verbose"}},
		{"exec -h", []string{"exec", "-h"}, [][]string{{"usage: bpflab exec [flags] PROGRAM", "-memory int", "\n  -v\t"}}, []string{"-verbose", "-src"}},
		{"run -h", []string{"run", "--help"}, [][]string{{"usage: bpflab run [flags] --", "-junit FILE"}}, []string{"-verbose"}},
		{"shell -h", []string{"shell", "-h"}, [][]string{{"usage: bpflab shell", "-kernel"}}, []string{"-verbose"}},
		{"kernels -h", []string{"kernels", "-h"}, [][]string{{"bpflab kernels fetch", "bpflab kernels list", "-cache-dir"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, tc.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, stderr)
			}
			for _, ws := range tc.want {
				for _, w := range ws {
					if !strings.Contains(stdout, w) {
						t.Errorf("help lacks %q:\n%s", w, stdout)
					}
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(stdout, w) {
					t.Errorf("help has %q:\n%s", w, stdout)
				}
			}
		})
	}
}

// TestUsageListsEveryLab checks that the labs in bpflab help come from
// the labs map: a lab added to it appears.
func TestUsageListsEveryLab(t *testing.T) {
	labs["lab-test"] = &harness.Lab{ID: "lab-test", Title: "a lab only this test has"}
	t.Cleanup(func() { delete(labs, "lab-test") })
	for _, args := range [][]string{{"help"}, {"grade", "-h"}} {
		stdout, _, _ := runCLI(t, args...)
		if !strings.Contains(stdout, "lab-test  a lab only this test has") {
			t.Errorf("bpflab %s does not list a lab of the map:\n%s", strings.Join(args, " "), stdout)
		}
	}
}

// TestUsageErrorsBeforeBoot gives each command a value it cannot use: a
// usage error (64) that names it, before anything is compiled or booted.
// The accepted values end in exit 65: the kernel image does not exist.
func TestUsageErrorsBeforeBoot(t *testing.T) {
	hermetic(t)
	dir := t.TempDir()
	write := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("// a file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("prog.bpf.c")
	notC := write("prog.bpf.o")
	existing := write("report.json")
	cdir := filepath.Join(dir, "srcdir")
	if err := os.Mkdir(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	grade := func(args ...string) []string {
		return append([]string{"grade", "lab-1", "--kernel", noKernel}, args...)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  []string
	}{
		{"grade without a lab", []string{"grade", "--kernel", noKernel}, 64, []string{"grade needs a lab", "lab-1, lab-2"}},
		{"grade unknown lab", []string{"grade", "lab-0"}, 64, []string{`unknown lab "lab-0"`}},
		{"grade file without --src", grade(good), 64, []string{"unexpected argument", "--src FILE"}},
		{"src directory", grade("--src", cdir), 64, []string{"--src " + cdir + " is a directory", "C file"}},
		{"src lab directory", []string{"grade", "lab-1", "--kernel", noKernel, "--src", filepath.Join("..", "..", "labs", "lab-1")}, 64, []string{"is a directory", "openat.bpf.c"}},
		{"src missing", grade("--src", filepath.Join(dir, "nope.c")), 64, []string{"nope.c: no such file", "labs/lab-1/openat.bpf.c"}},
		{"src not C", grade("--src", notC), 64, []string{"--src " + notC + " is not a C file", "ends in .c"}},
		{"src not regular", grade("--src", "/dev/null"), 64, []string{"--src /dev/null is not a regular file"}},
		{"second src bad", grade("--src", good, "--src", cdir), 64, []string{cdir + " is a directory"}},
		{"json directory", grade("--json", dir), 64, []string{"--json " + dir + " is a directory"}},
		{"json missing directory", grade("--json", filepath.Join(dir, "no", "r.json")), 64, []string{"directory " + filepath.Join(dir, "no") + " does not exist"}},
		{"json under a file", grade("--json", filepath.Join(good, "r.json")), 64, []string{good + " is not a directory"}},
		{"run junit missing directory", []string{"run", "--kernel", noKernel, "--junit", "/nonexistent/j.xml", "--", "true"}, 64, []string{"--junit /nonexistent/j.xml", "does not exist"}},
		{"exec memory", []string{"exec", "--kernel", noKernel, "--memory", "3585", "/bin/true"}, 64, []string{"--memory 3585 MiB", "at most 3584 MiB"}},
		{"run memory", []string{"run", "--kernel", noKernel, "--memory", "8192", "--", "true"}, 64, []string{"at most 3584 MiB"}},
		{"grade memory", grade("--memory", "4096"), 64, []string{"at most 3584 MiB"}},
		{"shell memory", []string{"shell", "--kernel", noKernel, "--memory", "100000"}, 64, []string{"at most 3584 MiB"}},

		{"src accepted", grade("--src", good), 65, nil},
		{"json stdout accepted", grade("--src", good, "--json", "-"), 65, nil},
		{"json new file accepted", grade("--json", filepath.Join(dir, "new.json")), 65, nil},
		{"json existing file accepted", grade("--json", existing), 65, nil},
		{"memory at the limit accepted", []string{"exec", "--kernel", noKernel, "--memory", "3584", "/bin/true"}, 65, nil},
		{"--verbose accepted", grade("--verbose"), 65, nil},
		{"flags before the lab", []string{"grade", "-v", "--kernel", noKernel, "lab-2", "--src", good}, 65, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, stderr)
			}
			for _, m := range tc.msg {
				if !strings.Contains(stderr, m) {
					t.Errorf("stderr lacks %q:\n%s", m, stderr)
				}
			}
			if strings.Contains(stderr, "compiling") {
				t.Errorf("compiled before refusing:\n%s", stderr)
			}
		})
	}
}

func TestVerboseAlias(t *testing.T) {
	for _, args := range [][]string{{"-v"}, {"--verbose"}, {"-verbose=true"}} {
		fs := flag.NewFlagSet("grade", flag.ContinueOnError)
		var vf vmFlags
		vf.register(fs)
		if err := parseFlags(fs, args, io.Discard); err != nil || !vf.verbose {
			t.Errorf("%v: verbose %v, error %v; want true", args, vf.verbose, err)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		meminfo string // "" for no file
		limit   int
	}{
		{"8 GiB", "MemTotal:        8388608 kB\nMemAvailable:    4000000 kB\n", 8192 - hostReserveMiB},
		{"MemTotal not first", "Foo: 1 kB\nMemTotal:  1048576 kB\n", 1024 - hostReserveMiB},
		{"smaller than the reserve", "MemTotal:  262144 kB\n", 0},
		{"no MemTotal", "MemAvailable:  1048576 kB\n", 0},
		{"no file", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "meminfo")
			if tc.meminfo != "" {
				if err := os.WriteFile(p, []byte(tc.meminfo), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			old := meminfoPath
			meminfoPath = p
			defer func() { meminfoPath = old }()
			if got := memoryLimitMiB(); got != tc.limit {
				t.Errorf("limit %d MiB, want %d", got, tc.limit)
			}
			if tc.limit > 0 {
				if err := checkMemory(tc.limit); err != nil {
					t.Errorf("at the limit: %v", err)
				}
				if err := checkMemory(tc.limit + 1); err == nil {
					t.Errorf("past the limit: no error")
				}
			}
		})
	}
}

func TestCheckOutput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "r.json")
	if err := os.WriteFile(file, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0 // root writes where the mode says it may not
	for _, tc := range []struct {
		name, path string
		ok         bool
		skip       bool
	}{
		{"none", "", true, false},
		{"stdout", "-", true, false},
		{"new file", filepath.Join(dir, "new.json"), true, false},
		{"existing file", file, true, false},
		{"directory", dir, false, false},
		{"missing directory", filepath.Join(dir, "a", "b.json"), false, false},
		{"directory is a file", filepath.Join(file, "b.json"), false, false},
		{"read-only directory", filepath.Join(ro, "b.json"), false, root},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip {
				t.Skip("root may write anywhere")
			}
			err := checkOutput("--json", tc.path)
			if (err == nil) != tc.ok {
				t.Errorf("checkOutput(%q) = %v, want ok %v", tc.path, err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "--json "+tc.path) {
				t.Errorf("error %q does not name the path", err)
			}
		})
	}
	if b, _ := os.ReadFile(file); string(b) != "old" {
		t.Errorf("the check changed an existing file: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("the check left files behind: %v", ents)
	}
}

func TestGradeRepro(t *testing.T) {
	lab := labs["lab-1"]
	k := &kernels.Kernel{Alias: "6.12"}
	matrix := target{name: "6.12", kernel: k}
	image := target{name: "vmlinuz", path: "/k/vmlinuz"}
	host := target{name: "host", host: true}
	other := defaultVMFlags(t)
	other.accel, other.memory, other.cpus = "tcg", 1024, 2
	for _, tc := range []struct {
		name string
		g    gradeFlags
		t    target
		subs []harness.Submission
		want string
	}{
		{"files on a matrix kernel", gradeFlags{seed: 42, vmFlags: defaultVMFlags(t)},
			matrix, []harness.Submission{{Label: "a.bpf.c"}, {Label: "dir/b c.bpf.c"}},
			"/bin/bpflab grade lab-1 --kernel 6.12 --console --seed 42 --src a.bpf.c --src 'dir/b c.bpf.c'"},
		{"solution on an image, other guest", gradeFlags{seed: 7, solution: true, vmFlags: other},
			image, []harness.Submission{{Label: "a.bpf.c"}, {Label: "solution", Src: "/src/labs/lab-1/solution/openat.bpf.c"}},
			"/bin/bpflab grade lab-1 --kernel /k/vmlinuz --accel tcg --memory 1024 --cpus 2 --console --seed 7 --src a.bpf.c --solution"},
		{"default file on the host", gradeFlags{seed: 9, vmFlags: defaultVMFlags(t)},
			host, []harness.Submission{{Label: "labs/lab-1/openat.bpf.c"}},
			"/bin/bpflab grade lab-1 --kernel host --seed 9 --src labs/lab-1/openat.bpf.c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := shellQuote(gradeRepro("/bin/bpflab", lab, &tc.g, tc.t, tc.subs))
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
