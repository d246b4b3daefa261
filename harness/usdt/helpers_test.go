package usdt

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// needTool skips the test when a program it runs is not installed.
func needTool(tb testing.TB, name string) {
	tb.Helper()
	if _, err := exec.LookPath(name); err != nil {
		tb.Skipf("%s is not installed: scripts/deps.sh installs it", name)
	}
}

// needSDT skips the test without gcc and sys/sdt.h (systemtap-sdt-dev).
func needSDT(tb testing.TB) {
	tb.Helper()
	needTool(tb, "gcc")
	needTool(tb, "readelf")
	cmd := exec.Command("gcc", "-E", "-x", "c", "-")
	cmd.Stdin = strings.NewReader("#include <sys/sdt.h>\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Skipf("sys/sdt.h is missing (apt-get install systemtap-sdt-dev): %v\n%s", err, out)
	}
}

func run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// A variant is one way of building testdata/target.c.
type variant struct {
	name  string
	flags []string
	// static links lib.c in; the others use libusdtlab.so.
	static bool
	// pic: the executable's addresses are relative to where it is loaded.
	pic bool
}

var variants = []variant{
	{"O0-pie", []string{"-O0", "-fPIE", "-pie"}, false, true},
	{"O2-pie", []string{"-O2", "-fPIE", "-pie"}, false, true},
	{"O0-nopie", []string{"-O0", "-fno-pie", "-no-pie"}, false, false},
	{"O2-nopie", []string{"-O2", "-fno-pie", "-no-pie"}, false, false},
	{"O2-static", []string{"-O2", "-static"}, true, false},
	{"O2-static-pie", []string{"-O2", "-static-pie"}, true, true},
}

func (v variant) optimized() bool { return v.flags[0] != "-O0" }

// build compiles the target as v, and the shared library it uses, into a
// temporary directory; it returns the executable's and the library's paths.
func build(tb testing.TB, v variant) (exe, lib string) {
	tb.Helper()
	needSDT(tb)
	dir := tb.TempDir()
	src, err := filepath.Abs("testdata")
	if err != nil {
		tb.Fatal(err)
	}
	exe = filepath.Join(dir, "target-"+v.name)
	lib = filepath.Join(dir, "libusdtlab.so")
	args := append([]string{"-g", "-o", exe}, v.flags...)
	args = append(args, filepath.Join(src, "target.c"), filepath.Join(src, "guarded.c"))
	if v.static {
		args = append(args, filepath.Join(src, "lib.c"))
		lib = ""
	} else {
		run(tb, "gcc", "-O2", "-g", "-fPIC", "-shared", "-o", lib, filepath.Join(src, "lib.c"))
		args = append(args, "-L"+dir, "-lusdtlab", "-Wl,-rpath,"+dir)
	}
	run(tb, "gcc", args...)
	return exe, lib
}

var readelfProbe = regexp.MustCompile(`Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)\n\s+Arguments: ?([^\n]*)`)

// readelfProbes returns the probes `readelf -n` shows, with the fields it
// shows.
func readelfProbes(tb testing.TB, path string) []Probe {
	tb.Helper()
	var ps []Probe
	for _, m := range readelfProbe.FindAllStringSubmatch(run(tb, "readelf", "-n", path), -1) {
		ps = append(ps, Probe{Provider: m[1], Name: m[2], Address: hex(tb, m[3]), Base: hex(tb, m[4]), Semaphore: hex(tb, m[5]), Args: m[6]})
	}
	return ps
}

func hex(tb testing.TB, s string) uint64 {
	tb.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// compileBPF builds testdata/probe.bpf.c as the harness builds a lab's
// program, with these extra clang flags; it skips without clang.
func compileBPF(tb testing.TB, flags ...string) string {
	tb.Helper()
	needTool(tb, "clang")
	inc, err := filepath.Abs(filepath.Join("..", "..", "bpf"))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat("/usr/include/bpf/usdt.bpf.h"); err != nil {
		tb.Skip("bpf/usdt.bpf.h is missing: apt-get install libbpf-dev")
	}
	obj := filepath.Join(tb.TempDir(), "probe.bpf.o")
	args := []string{"-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", "-I", inc,
		"-idirafter", "/usr/include/x86_64-linux-gnu", "-c", filepath.Join("testdata", "probe.bpf.c"), "-o", obj}
	run(tb, "clang", append(flags, args...)...)
	return obj
}
