package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bpflab/bpflab/vmtest"
	"github.com/bpflab/bpflab/vmtest/kernels"
)

// defaultVMFlags are the options at their built-in defaults.
func defaultVMFlags(t *testing.T) vmFlags {
	t.Helper()
	hermetic(t)
	t.Setenv("BPFLAB_ACCEL", "")
	var vf vmFlags
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	vf.register(fs)
	if err := vf.parse(fs, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	return vf
}

var allowVMFlags = cmp.AllowUnexported(vmFlags{}, storeFlags{})

// The built-in defaults are vmtest's, and written back they are nothing.
func TestOptionDefaults(t *testing.T) {
	vf := defaultVMFlags(t)
	want := vmFlags{
		storeFlags:  storeFlags{cache: kernels.DefaultDir()},
		accel:       vmtest.DefaultAccel,
		memory:      vmtest.DefaultMemoryMiB,
		cpus:        vmtest.DefaultCPUs,
		bootTimeout: vmtest.DefaultBootTimeout,
		hostView:    true,
	}
	if diff := cmp.Diff(want, vf, allowVMFlags); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if got := vf.flagArgs(false); len(got) != 0 {
		t.Errorf("flagArgs(false) at the defaults = %q, want nothing", got)
	}
	// Pinned, the options a bpflab.conf may set are written all the same.
	vf.kernel = "6.1"
	want2 := []string{"--kernel", "6.1", "--accel", "auto", "--memory", "512", "--cpus", "1", "--boot-timeout", "1m0s", "--run-timeout", "0s", "--cold=false", "--host-view"}
	if diff := cmp.Diff(want2, vf.flagArgs(true)); diff != "" {
		t.Errorf("flagArgs(true) (-want +got):\n%s", diff)
	}
}

// Every option given to 'bpflab run' reaches the 'bpflab exec' that go
// test runs, whatever bpflab.conf is nearest to the test's package.
func TestRunToExec(t *testing.T) {
	hermetic(t)
	dir := t.TempDir()
	runArgs := []string{
		"--kernel", "6.1,6.12", "--accel", "tcg", "--memory", "1024", "--cpus", "2",
		"--boot-timeout", "90s", "--run-timeout", "3m",
		"--env", "A=1", "--env", "B=two words", "--env", `C=it's`,
		"--qemu-arg", "-S", "--qemu-arg=-d", "--qemu-arg", "guest_errors",
		"--cmdline", `quiet x="a b"`,
		"--cache-dir", filepath.Join(dir, "my cache"), "--lock", filepath.Join(dir, "k.lock"),
		"--console", "-v", "--parallel", "2", "--json", filepath.Join(dir, "s.json"),
		"--", "go", "test", "./...",
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var rf runFlags
	rf.register(fs)
	if err := rf.parse(fs, runArgs, io.Discard); err != nil {
		t.Fatal(err)
	}

	// Where the test runs, a bpflab.conf that says otherwise.
	conf := filepath.Join(dir, configName)
	if err := os.WriteFile(conf, []byte("kernel = 5.10\naccel = kvm\nmemory = 256\ncpus = 4\nboot-timeout = 5s\nrun-timeout = 1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BPFLAB_CONFIG", conf)

	tgt := target{name: "6.1", path: "/cache/vmlinuz-6.1"}
	execArgs := execCommand("/usr/bin/bpflab", &rf.vmFlags, tgt, "/tmp/report.jsonl")
	argv, asked, err := goTestCommand(fs.Args(), execArgs)
	if err != nil {
		t.Fatal(err)
	}
	if asked || argv[0] != "go" || argv[1] != "test" || argv[2] != "-exec" || argv[4] != "-json" {
		t.Fatalf("go test command %q (asked %v): want go test -exec VALUE -json ...", argv, asked)
	}
	split := goSplit(t, argv[3])
	if diff := cmp.Diff(execArgs, split); diff != "" {
		t.Fatalf("the -exec value splits differently (-want +got):\n%s", diff)
	}
	if split[0] != "/usr/bin/bpflab" || split[1] != "exec" {
		t.Fatalf("-exec runs %q, want /usr/bin/bpflab exec", split[:2])
	}

	efs := flag.NewFlagSet("exec", flag.ContinueOnError)
	var ef execFlags
	ef.register(efs)
	if err := ef.parse(efs, append(split[2:], "/tmp/pkg.test", "-test.v"), io.Discard); err != nil {
		t.Fatal(err)
	}
	want := rf.vmFlags
	want.kernel = tgt.path
	if diff := cmp.Diff(want, ef.vmFlags, allowVMFlags); diff != "" {
		t.Errorf("exec's options differ from run's (-want +got):\n%s", diff)
	}
	if ef.report != "/tmp/report.jsonl" {
		t.Errorf("exec's report %q, want /tmp/report.jsonl", ef.report)
	}
	if got := efs.Args(); len(got) != 2 || got[0] != "/tmp/pkg.test" {
		t.Errorf("exec's program %q, want /tmp/pkg.test -test.v", got)
	}

	// go test runs the exec in the package's directory: relative paths
	// are made absolute.
	rel := rf.vmFlags
	rel.lock, rel.cache = "k.lock", "cache"
	wd, _ := os.Getwd()
	args := strings.Join(execCommand("bpflab", &rel, tgt, "r"), " ")
	for _, want := range []string{"--lock " + filepath.Join(wd, "k.lock"), "--cache-dir " + filepath.Join(wd, "cache")} {
		if !strings.Contains(args, want) {
			t.Errorf("exec command %s lacks %s", args, want)
		}
	}
}

// The command that reproduces a failure boots the same guest.
func TestReproCommand(t *testing.T) {
	vf := defaultVMFlags(t)
	vf.memory, vf.lock = 2048, "/src/k.lock"
	vf.env = multiFlag{"K=a b"}
	vf.qemuArgs = multiFlag{"-S"}
	self, _ := os.Executable()
	res := &vmtest.Result{Accel: "tcg"}
	got := reproCommand(&vf, target{name: "6.1", path: "/k/vmlinuz"}, []string{"/bin/prog", "it's"}, res)
	want := []string{self, "exec", "--kernel", "/k/vmlinuz", "--accel", "tcg", "--memory", "2048",
		"--env", "K=a b", "--qemu-arg=-S", "--console", "--lock", "/src/k.lock", "--", "/bin/prog", "it's"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("repro (-want +got):\n%s", diff)
	}
	if q := shellQuote(got[1:]); q != `exec --kernel /k/vmlinuz --accel tcg --memory 2048 --env 'K=a b' --qemu-arg=-S --console --lock /src/k.lock -- /bin/prog 'it'"'"'s'` {
		t.Errorf("quoted: %s", q)
	}
	// It parses back to the same options.
	efs := flag.NewFlagSet("exec", flag.ContinueOnError)
	var ef execFlags
	ef.register(efs)
	if err := ef.parse(efs, got[2:], io.Discard); err != nil {
		t.Fatal(err)
	}
	vf.kernel, vf.accel, vf.console = "/k/vmlinuz", "tcg", true
	if diff := cmp.Diff(vf, ef.vmFlags, allowVMFlags); diff != "" {
		t.Errorf("repro's options (-want +got):\n%s", diff)
	}
}

// goSplit splits an -exec value as the go command does
// (cmd/internal/quoted.Split): at white space, with fields in '...' or
// "..." taken as they are.
func goSplit(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if s == "" {
			return out
		}
		if q := s[0]; q == '\'' || q == '"' {
			end := strings.IndexByte(s[1:], q)
			if end < 0 {
				t.Fatalf("unterminated %c in %s", q, s)
			}
			out = append(out, s[1:1+end])
			s = s[2+end:]
			continue
		}
		end := strings.IndexAny(s, " \t\r\n")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}

var execQuoteCases = [][]string{
	{"/bin/x", "plain", "two words", "it's", `say "hi"`, "", "tab\there", "--cmdline=a='b c'"},
}

func TestGoExecQuote(t *testing.T) {
	for _, argv := range execQuoteCases {
		v, err := goExecQuote(argv)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(argv, goSplit(t, v)); diff != "" {
			t.Errorf("%s splits to (-want +got):\n%s", v, diff)
		}
	}
	if _, err := goExecQuote([]string{`both ' and "`}); err == nil || failureClass(err) != classUsage {
		t.Errorf("both quotes: %v, want a usage error", err)
	}
}

// The go command itself splits the value into the same arguments: go run
// -exec runs a script that writes down the arguments it was given.
func TestGoExecQuoteWithGo(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "args.sh")
	got := filepath.Join(dir, "got")
	main := filepath.Join(dir, "main.go")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done >\"$ARGS_OUT\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(main, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	argv := append([]string{script}, execQuoteCases[0][1:]...)
	v, err := goExecQuote(argv)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goCmd, "run", "-exec", v, main)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ARGS_OUT="+got)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run -exec %s: %v\n%s", v, err, out)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	// The script gets the arguments after its own path, then the program.
	if diff := cmp.Diff(argv[1:], args[:len(args)-1]); diff != "" {
		t.Errorf("go passed (-want +got):\n%s", diff)
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Minute: "10m", 90 * time.Second: "1m30s", time.Hour: "1h", 2 * time.Second: "2s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// The flags help lists are the table's, with their defaults.
func TestOptionsHelp(t *testing.T) {
	hermetic(t)
	var buf bytes.Buffer
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	var vf vmFlags
	vf.register(fs)
	printFlags(&buf, fs)
	for _, o := range vmOptions() {
		if !regexp.MustCompile(`(?m)^  -` + o.name + `\b`).MatchString(buf.String()) {
			t.Errorf("help lacks -%s:\n%s", o.name, buf.String())
		}
	}
	for _, want := range []string{"(default 512)", "(default 1m0s)", "(default 10m, or the test's -test.timeout plus 1m)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, buf.String())
		}
	}
}
