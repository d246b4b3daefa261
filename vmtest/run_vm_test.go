package vmtest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpflab/bpflab/internal/testvm"
	"github.com/bpflab/bpflab/vmtest"
)

// payloadEnv selects what this test binary does when it is the payload.
const payloadEnv = "BPFLAB_TEST_PAYLOAD"

// warmCache holds the guests the tests save and restore, shared by the
// tests that do not damage or empty it, so each kernel is saved once.
var warmCache string

func TestMain(m *testing.M) {
	if c := os.Getenv(payloadEnv); c != "" {
		payload(c)
		return
	}
	var err error
	if warmCache, err = os.MkdirTemp("", "bpflab-warm-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(warmCache)
	os.Exit(code)
}

// payload runs inside the guest.
func payload(c string) {
	switch c {
	case "exit0":
		return
	case "pass":
		// What the init promises: the pseudo file systems, BPF LSM active,
		// the package's testdata at its path, a writable /tmp.
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		for _, fs := range []string{" - tracefs ", " - debugfs ", " - bpf ", " - cgroup2 ", " - securityfs ", " - tmpfs "} {
			if !bytes.Contains(mounts, []byte(fs)) {
				fmt.Fprintf(os.Stderr, "missing mount%s\n", fs)
				os.Exit(10)
			}
		}
		lsm, err := os.ReadFile("/sys/kernel/security/lsm")
		if err != nil || !strings.Contains(string(lsm), "bpf") {
			fmt.Fprintf(os.Stderr, "BPF LSM inactive: %q %v\n", lsm, err)
			os.Exit(11)
		}
		if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
			fmt.Fprintln(os.Stderr, "no BTF:", err)
			os.Exit(12)
		}
		// No limit on locked memory, which 5.10 charges BPF maps to.
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(8 /* RLIMIT_MEMLOCK */, &lim); err != nil || lim.Cur != ^uint64(0) {
			fmt.Fprintf(os.Stderr, "RLIMIT_MEMLOCK %d: %v\n", lim.Cur, err)
			os.Exit(16)
		}
		// The kernel's configuration where libbpf looks for it.
		rel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
		if _, err := os.Stat("/boot/config-" + strings.TrimSpace(string(rel))); err != nil {
			fmt.Fprintln(os.Stderr, "kernel config:", err)
			os.Exit(15)
		}
		fixture, err := os.ReadFile("testdata/hello.txt")
		if err != nil {
			fmt.Fprintln(os.Stderr, "testdata:", err)
			os.Exit(13)
		}
		if err := os.WriteFile(os.Getenv("OUT_FILE"), []byte("written in guest"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "out file:", err)
			os.Exit(14)
		}
		fmt.Printf("stdout-ok %s", fixture)
		fmt.Fprint(os.Stderr, "stderr-ok\n")
	case "bigfile":
		// A file of several frames, as a large -coverprofile is.
		if err := os.WriteFile(os.Getenv("OUT_FILE"), bigFile(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "big file:", err)
			os.Exit(14)
		}
	case "fresh":
		// What a restored guest must not share with its snapshot's other
		// clones: the kernel's random numbers, a stale clock, or /tmp.
		uuid, _ := os.ReadFile("/proc/sys/kernel/random/uuid")
		ents, _ := os.ReadDir("/tmp")
		self, _ := os.Executable()
		wd, _ := os.Getwd()
		var names []string
		for _, e := range ents {
			own := "/tmp/" + e.Name() + "/"
			if !strings.HasPrefix(self, own) && !strings.HasPrefix(wd+"/", own) { // the payload's own
				names = append(names, e.Name())
			}
		}
		_ = os.WriteFile("/tmp/left-behind", nil, 0o644)
		fmt.Printf("uuid=%s time=%d tmp=%s\n", strings.TrimSpace(string(uuid)), time.Now().Unix(), strings.Join(names, ","))
	case "hostview":
		// The host's files at their paths, read-only: the module's go.mod
		// is outside the package directory, so only the host view has it.
		mod, err := os.ReadFile("../go.mod")
		first, _, _ := strings.Cut(string(mod), "\n")
		fmt.Printf("gomod=%q err=%v\n", first, err != nil)
		fmt.Printf("write=%v\n", os.WriteFile("../bpflab-hostview-probe", []byte("guest"), 0o644))
		b, err := os.ReadFile("../bpflab-hostview-probe")
		fmt.Printf("readback=%q %v\n", b, err)
		// The kernel's own modules, with their dependencies, through the
		// host's modprobe.
		out, err := exec.Command("/sbin/modprobe", "dummy").CombinedOutput()
		_, serr := os.Stat("/sys/module/dummy")
		fmt.Printf("modprobe=%v %s\n", serr == nil, bytes.TrimSpace(out))
		if err != nil || serr != nil {
			fmt.Fprintf(os.Stderr, "modprobe dummy: %v %v\n", err, serr)
		}
		// The payload's root is its mount namespace's, not a chroot: it
		// may create user namespaces (BPF tokens' tests do).
		userns := exec.Command("/bin/true")
		userns.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
		fmt.Printf("userns=%v\n", userns.Run())
		// The view's own mount is the init's: the payload finds nothing
		// there, with the view (it runs in the merged root) or without
		// (and then never waits for an answer that does not come).
		ents, _ := os.ReadDir("/run/bpflab/host")
		fmt.Printf("mount=%v\n", len(ents) > 0)
	case "exit3":
		fmt.Println("about to exit 3")
		os.Exit(3)
	case "panic":
		panic("boom")
	case "hang":
		fmt.Println("hanging")
		select {}
	case "forge":
		// Output that looks like a frame must come out as output.
		os.Stdout.Write([]byte{0xB7, 5, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
		os.Exit(4)
	}
}

// boot runs this test binary as the payload on kernel k; the console is
// logged if the test fails.
func boot(t *testing.T, k testvm.Kernel, c string, mod func(*vmtest.Config, *vmtest.Job)) (*vmtest.Result, string, string, error) {
	t.Helper()
	return bootWith(t, k, c, mod, true)
}

func bootWith(t *testing.T, k testvm.Kernel, c string, mod func(*vmtest.Config, *vmtest.Job), logConsole bool) (*vmtest.Result, string, string, error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	var stdout, stderr, console bytes.Buffer
	cfg := vmtest.Config{
		Kernel:  k.Path,
		Init:    testvm.Binary(t),
		Stdout:  &stdout,
		Stderr:  &stderr,
		Console: &console,
		Accel:   "tcg",
	}
	job := vmtest.Job{Args: []string{self}, Dir: wd, ShipDir: true, Env: []string{payloadEnv + "=" + c}}
	if mod != nil {
		mod(&cfg, &job)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := vmtest.Run(ctx, cfg, job)
	if logConsole {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("console of %s (%s):\n%s", k.Alias, c, console.String())
			}
		})
	}
	return res, stdout.String(), stderr.String(), err
}

// TestMatrix boots every kernel of the lock and checks that exit codes,
// output and files come back exactly, for a payload that passes, exits 3,
// panics, and hangs past its deadline.
//
// Each case runs twice: booting the kernel, and restoring a guest saved
// after a boot (a warm start), which must not differ in any of it.
func TestMatrix(t *testing.T) {
	cache := warmCache
	for _, k := range testvm.Kernels(t) {
		t.Run(k.Alias, func(t *testing.T) {
			t.Parallel()
			t.Run("cold", func(t *testing.T) { matrixCases(t, k, nil, "pass") })
			t.Run("warm", func(t *testing.T) {
				matrixCases(t, k, func(c *vmtest.Config, res *vmtest.Result) {
					if c != nil {
						c.CacheDir = cache
					} else if !res.Warm {
						t.Errorf("the run booted the kernel instead of restoring a saved guest")
					}
				}, "pass", "exit3", "panic", "timeout")
			})
		})
	}
}

// matrixCases runs the matrix's payloads named in cases on k. warm, if
// set, is called with each configuration before the run, and with each
// result after it. A booted guest runs only "pass": past the boot, booted
// and restored guests share every line that relays exit codes, output and
// deadlines, and the other tests of this package boot (bad input, large
// files, dynamic payloads).
func matrixCases(t *testing.T, k testvm.Kernel, warm func(*vmtest.Config, *vmtest.Result), cases ...string) {
	run := func(name string, f func(t *testing.T)) {
		if slices.Contains(cases, name) {
			t.Run(name, f)
		}
	}
	boot := func(t *testing.T, k testvm.Kernel, c string, mod func(*vmtest.Config, *vmtest.Job)) (*vmtest.Result, string, string, error) {
		res, stdout, stderr, err := boot(t, k, c, func(cfg *vmtest.Config, j *vmtest.Job) {
			if mod != nil {
				mod(cfg, j)
			}
			if warm != nil {
				warm(cfg, nil)
			}
		})
		if warm != nil && res != nil {
			warm(nil, res)
		}
		return res, stdout, stderr, err
	}
	{
		{
			run("pass", func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "sub", "out.txt")
				res, stdout, stderr, err := boot(t, k, "pass", func(c *vmtest.Config, j *vmtest.Job) {
					j.Env = append(j.Env, "OUT_FILE="+out)
					j.Mkdirs = []string{filepath.Dir(out)}
					j.Collect = []string{out}
				})
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				if res.Status != (vmtest.ExitStatus{}) {
					t.Errorf("status %+v, want 0; stderr:\n%s", res.Status, stderr)
				}
				if stdout != "stdout-ok fixture from testdata\n" || stderr != "stderr-ok\n" {
					t.Errorf("stdout %q stderr %q", stdout, stderr)
				}
				if b, err := os.ReadFile(out); err != nil || string(b) != "written in guest" {
					t.Errorf("file from the guest: %q, %v", b, err)
				}
				t.Logf("boot %v, total %v", res.Boot, res.Total)
			})
			run("exit3", func(t *testing.T) {
				res, stdout, _, err := boot(t, k, "exit3", nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.Status.ShellCode() != 3 || stdout != "about to exit 3\n" {
					t.Errorf("status %+v stdout %q, want 3", res.Status, stdout)
				}
			})
			run("panic", func(t *testing.T) {
				res, _, stderr, err := boot(t, k, "panic", nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.Status.ShellCode() != 2 || !strings.Contains(stderr, "panic: boom") {
					t.Errorf("status %+v stderr %q, want 2 and the panic", res.Status, stderr)
				}
			})
			run("timeout", func(t *testing.T) {
				start := time.Now()
				_, stdout, _, err := boot(t, k, "hang", func(c *vmtest.Config, j *vmtest.Job) {
					c.RunTimeout = 3 * time.Second
				})
				if vmtest.ClassOf(err) != vmtest.ClassTimeout {
					t.Fatalf("err %v, want a timeout", err)
				}
				if stdout != "hanging\n" {
					t.Errorf("output before the timeout lost: %q", stdout)
				}
				if d := time.Since(start); d > 90*time.Second {
					t.Errorf("timeout took %v", d)
				}
			})
		}
	}
}

// bigFile is 3 MiB and a few bytes of a pattern in which a lost or
// misplaced chunk shows.
func bigFile() []byte {
	b := make([]byte, 3<<20+7)
	for i := range b {
		b[i] = byte(i*7 + i>>16)
	}
	return b
}

// TestLargeFileFromGuest collects a file of a few MiB from the guest: it
// must arrive whole.
func TestLargeFileFromGuest(t *testing.T) {
	k := testvm.Default(t)
	out := filepath.Join(t.TempDir(), "cover.out")
	res, _, stderr, err := boot(t, k, "bigfile", func(c *vmtest.Config, j *vmtest.Job) {
		j.Env = append(j.Env, "OUT_FILE="+out)
		j.Mkdirs = []string{filepath.Dir(out)}
		j.Collect = []string{out}
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Status != (vmtest.ExitStatus{}) {
		t.Fatalf("status %+v, want 0; stderr:\n%s", res.Status, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bigFile()) {
		t.Errorf("received %d bytes, want the %d the guest wrote", len(got), len(bigFile()))
	}
	t.Logf("boot %v, total %v", res.Boot, res.Total)
}

// TestBadInput checks that each kind of bad input ends in its class,
// quickly, on the default kernel.
func TestBadInput(t *testing.T) {
	k := testvm.Default(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a kernel "), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "text")
	if err := os.WriteFile(text, []byte("hello"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*vmtest.Config, *vmtest.Job)
		want vmtest.Class
	}{
		{"garbage kernel", func(c *vmtest.Config, j *vmtest.Job) { c.Kernel = garbage }, vmtest.ClassKernel},
		{"missing kernel", func(c *vmtest.Config, j *vmtest.Job) { c.Kernel = filepath.Join(dir, "nope") }, vmtest.ClassKernel},
		{"missing qemu", func(c *vmtest.Config, j *vmtest.Job) { c.QEMU = "qemu-system-nonexistent" }, vmtest.ClassInfra},
		{"payload not executable", func(c *vmtest.Config, j *vmtest.Job) { j.Args = []string{text} }, vmtest.ClassPayload},
		{"payload missing", func(c *vmtest.Config, j *vmtest.Job) { j.Args = []string{filepath.Join(dir, "nope")} }, vmtest.ClassPayload},
		{"bad accel", func(c *vmtest.Config, j *vmtest.Job) { c.Accel = "xen" }, vmtest.ClassUsage},
		{"boot hang", func(c *vmtest.Config, j *vmtest.Job) { c.BootTimeout = 300 * time.Millisecond }, vmtest.ClassBootHang},
		{"kernel panic", func(c *vmtest.Config, j *vmtest.Job) { c.Cmdline = "rdinit=/nonexistent" }, vmtest.ClassPanic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, _, _, err := boot(t, k, "pass", tc.mod)
			var verr *vmtest.Error
			if !errors.As(err, &verr) || verr.Class != tc.want {
				t.Fatalf("got %v, want class %v", err, tc.want)
			}
			if strings.Contains(verr.Error(), "\n") {
				t.Errorf("message is not one line: %q", verr.Error())
			}
			if tc.want == vmtest.ClassPanic && len(verr.Console) == 0 {
				t.Error("a panic without the console tail")
			}
			t.Logf("%v: %v (after %v)", verr.Class, verr, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestDynamicPayload runs a dynamically linked program: its loader and
// libraries travel with it. Output that imitates a frame stays output.
func TestDynamicPayload(t *testing.T) {
	k := testvm.Default(t)
	res, stdout, _, err := boot(t, k, "", func(c *vmtest.Config, j *vmtest.Job) {
		j.Args = []string{"/bin/sh", "-c", `printf '\267\005\010\000\000\000\000\000\000\000'; exit 7`}
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status.ShellCode() != 7 {
		t.Errorf("status %+v, want 7", res.Status)
	}
	if stdout != "\xb7\x05\x08\x00\x00\x00\x00\x00\x00\x00" {
		t.Errorf("stdout %q: forged frame bytes did not come back as plain output", stdout)
	}
}

// A guest that does not start under KVM, asked for outright, names KVM
// and the way around it: here QEMU refuses the CPU as a nested KVM that
// cannot run guests makes it do.
func TestKVMRefusedNamesTCG(t *testing.T) {
	qemu := filepath.Join(t.TempDir(), "qemu")
	script := "#!/bin/sh\necho 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69' >&2\nexit 1\n"
	if err := os.WriteFile(qemu, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := bootWith(t, testvm.Default(t), "", func(c *vmtest.Config, _ *vmtest.Job) {
		c.Accel, c.QEMU = "kvm", qemu
	}, false)
	if vmtest.ClassOf(err) != vmtest.ClassInfra || !strings.Contains(err.Error(), "failed to set MSR") || !strings.Contains(err.Error(), "--accel tcg") {
		t.Errorf("got %v (class %v), want an infra error that says QEMU's and names --accel tcg", err, vmtest.ClassOf(err))
	}
}
