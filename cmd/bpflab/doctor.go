package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/vmtest"
	"github.com/bpflab/bpflab/vmtest/kernels"
	"golang.org/x/sys/unix"
)

// 'bpflab doctor' says what is wrong with this machine for bpflab: a line
// per thing it needs, OK, WARN or FAIL, and for anything not OK the exact
// fix.

type finding struct {
	Status string // OK, WARN, FAIL
	What   string
	Seen   string
	Fix    string
}

type doctor struct {
	findings []finding
}

func (d *doctor) add(status, what, seen, fix string) {
	d.findings = append(d.findings, finding{status, what, seen, fix})
}

// tool checks a command the host needs, installed by scripts/deps.sh
// from package pkg.
func (d *doctor) tool(cmd, pkg, why string) string {
	p, err := exec.LookPath(cmd)
	if err != nil {
		d.add("FAIL", cmd, "not installed ("+why+")", "make deps (scripts/deps.sh), or: sudo apt-get install --no-install-recommends "+pkg)
		return ""
	}
	d.add("OK", cmd, p, "")
	return p
}

func (d *doctor) file(p, what, pkg string) {
	if _, err := os.Stat(p); err != nil {
		d.add("FAIL", what, p+" is missing", "make deps (scripts/deps.sh), or: sudo apt-get install "+pkg)
		return
	}
	d.add("OK", what, p, "")
}

func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	var vf vmFlags
	vf.registerStore(fs)
	boot := fs.Bool("boot", false, "also boot the default kernel once, and say how long it took and with which accelerator")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	d := &doctor{}

	// The toolchain and the guest's tools.
	if p := d.tool("go", "golang-go", "builds bpflab and lab 7's Go programs"); p != "" {
		if out, err := exec.Command(p, "version").Output(); err == nil {
			d.findings[len(d.findings)-1].Seen = strings.TrimSpace(string(out))
		}
	}
	if p := d.tool("clang", "clang", "compiles BPF C"); p != "" {
		out, _ := exec.Command(p, "-print-targets").Output()
		if !strings.Contains(string(out), "bpf") {
			d.add("FAIL", "clang's BPF target", "clang -print-targets lists no bpf", "install Debian's clang (make deps), which has it")
		}
	}
	d.tool("llvm-strip", "llvm", "strips BPF objects")
	d.tool("bpftool", "bpftool", "dumps vmlinux.h, ships in bpflab shell")
	d.tool("qemu-system-x86_64", "qemu-system-x86", "boots the guests")
	d.tool("bwrap", "bubblewrap", "the compile sandbox")
	d.tool("prlimit", "util-linux", "the compile sandbox's limits")
	d.tool("gcc", "gcc", "builds labs 3 and 4's programs")
	d.file("/usr/include/bpf/bpf_helpers.h", "libbpf headers", "libbpf-dev")
	d.file("/usr/include/x86_64-linux-gnu/sys/sdt.h", "USDT header (lab 4)", "systemtap-sdt-dev")
	d.file("/bin/busybox", "busybox (bpflab shell)", "busybox-static")

	// Compiling for real: clang, the headers and the sandbox together.
	if root, err := sourceRoot(); err == nil {
		tmp, err := os.MkdirTemp("", "bpflab-doctor-")
		if err == nil {
			defer os.RemoveAll(tmp)
			l := labs["lab-1"]
			src := filepath.Join(root, l.Dir, l.Solution)
			err = harness.Compile(ctx, src, filepath.Join(tmp, "x.o"), l.Includes(root))
			var ce *harness.CompileError
			switch {
			case err == nil:
				how := "bubblewrap sandbox"
				if os.Getenv(harness.UnsafeCompileEnv) == "1" {
					how = "no sandbox (" + harness.UnsafeCompileEnv + "=1)"
				}
				d.add("OK", "compiling BPF", "lab 1's solution compiles, in a "+how, "")
			case errors.Is(err, harness.ErrNoSandbox):
				d.add("FAIL", "compiling BPF", err.Error(), "run bpflab where bubblewrap can make namespaces (not an unprivileged container), or "+harness.UnsafeCompileEnv+"=1 for files you trust")
			case errors.As(err, &ce):
				d.add("FAIL", "compiling BPF", firstLine(ce.Msg), "make deps installs clang and libbpf-dev; bpf/vmlinux.h comes with the source tree")
			default:
				d.add("FAIL", "compiling BPF", err.Error(), "make deps")
			}
		}
	} else {
		d.add("FAIL", "source tree", err.Error(), "run bpflab from its source tree, or set BPFLAB_ROOT")
	}

	// Kernels: the cache, the disk, the archive they come from.
	store, err := vf.storeFlags.open(newLogger(stderr, false))
	if err != nil {
		d.add("FAIL", "kernel cache", err.Error(), "--cache-dir DIR, or fix the lock file")
	} else {
		cached := 0
		var missing []string
		for _, k := range store.Lock.Kernels {
			if _, ok := store.Cached(k); ok {
				cached++
			} else {
				missing = append(missing, k.Alias)
			}
		}
		if len(missing) == 0 {
			d.add("OK", "kernels", fmt.Sprintf("all %d of the matrix cached in %s", cached, store.Dir), "")
		} else {
			d.add("WARN", "kernels", fmt.Sprintf("%d of %d cached in %s; not yet: %s", cached, len(store.Lock.Kernels), store.Dir, strings.Join(missing, ", ")),
				"bpflab kernels fetch all (make lab-N fetches the one it needs on first use)")
		}
		var st unix.Statfs_t
		dir := store.Dir
		for dir != "/" && unix.Statfs(dir, &st) != nil {
			dir = filepath.Dir(dir)
		}
		if free := int64(st.Bavail) * st.Bsize; free < 2<<30 {
			d.add("WARN", "free disk", fmt.Sprintf("%.1f GiB free at %s", float64(free)/(1<<30), dir), "free space there: each kernel takes about 15 MiB, a grade's temporary files up to some 100 MiB")
		} else {
			d.add("OK", "free disk", fmt.Sprintf("%.1f GiB free at %s", float64(free)/(1<<30), dir), "")
		}
	}
	if m, err := kernels.FindMirror("/etc/apt"); err != nil {
		fix := "add a Debian archive to apt's sources, or set " + kernels.MirrorEnv + " to a Debian archive URI"
		if osID() == "ubuntu" {
			fix = "this is Ubuntu, whose archive has no Debian kernels: set " + kernels.MirrorEnv + " to a Debian archive URI"
		}
		d.add("WARN", "Debian archive", err.Error()+" (needed only to fetch kernels not yet cached)", fix)
	} else {
		d.add("OK", "Debian archive", m+" (from apt's sources, or "+kernels.MirrorEnv+")", "")
	}

	// Acceleration.
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err != nil {
		d.add("WARN", "KVM", "/dev/kvm: "+err.Error()+": guests run under TCG (emulation), several times slower",
			"where the machine has virtualisation: sudo usermod -aG kvm $USER (then log in again), or run as root")
	} else {
		f.Close()
		cacheDir := ""
		if store != nil {
			cacheDir = store.Dir
		}
		switch works, known := vmtest.KVMVerdict(cacheDir); {
		case !known:
			d.add("OK", "KVM", "/dev/kvm opens; no guest has run under it since this host booted (doctor --boot tries)", "")
		case works:
			d.add("OK", "KVM", "guests run under KVM on this host", "")
		default:
			d.add("WARN", "KVM", "/dev/kvm opens, but a guest hung under it since this host booted: bpflab uses TCG (emulation, several times slower) until the host reboots",
				"fix nested virtualisation on this machine's host, or accept TCG (--accel tcg says so outright)")
		}
	}
	if *boot {
		self, _ := os.Executable()
		start := time.Now()
		out, err := exec.CommandContext(ctx, self, "exec", "-v", self, "help").CombinedOutput()
		took := time.Since(start)
		accel := "?"
		for _, l := range strings.Split(string(out), "\n") {
			if i := strings.Index(l, "accel="); i >= 0 {
				accel = strings.TrimRight(strings.Fields(l[i+len("accel="):])[0], ",\"")
				break
			}
		}
		if err != nil {
			d.add("FAIL", "boot", fmt.Sprintf("booting the default kernel failed after %.1fs: %v", took.Seconds(), err), "run: bpflab exec -v --console "+self+" help")
		} else {
			d.add("OK", "boot", fmt.Sprintf("the default kernel booted and ran a program in %.1fs (accel %s)", took.Seconds(), accel), "")
		}
	}

	// The host's own kernel, for --kernel host only.
	host := func(ok bool, what, seen, fix string) {
		if ok {
			d.add("OK", what, seen, "")
		} else {
			d.add("WARN", what, seen+" (matters only for --kernel host)", fix)
		}
	}
	_, err = os.Stat("/sys/kernel/btf/vmlinux")
	host(err == nil, "host BTF", "/sys/kernel/btf/vmlinux", "a kernel built with CONFIG_DEBUG_INFO_BTF; or grade in a VM (the default)")
	_, err1 := os.Stat("/sys/kernel/tracing/events")
	_, err2 := os.Stat("/sys/kernel/debug/tracing/events")
	host(err1 == nil || err2 == nil, "host tracefs", "/sys/kernel/tracing", "sudo mount -t tracefs tracefs /sys/kernel/tracing")
	_, err = os.Stat("/sys/kernel/tracing/kprobe_events")
	host(err == nil, "host kprobes", "/sys/kernel/tracing/kprobe_events", "a kernel with CONFIG_KPROBE_EVENTS; or grade in a VM")
	lsm, _ := os.ReadFile("/sys/kernel/security/lsm")
	host(strings.Contains(string(lsm), "bpf"), "host BPF LSM (lab 6)", "active LSMs: "+strings.TrimSpace(string(lsm)), "boot with lsm=...,bpf on the kernel command line; or grade in a VM")

	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fails := 0
	for _, f := range d.findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Status, f.What, f.Seen)
		if f.Fix != "" {
			fmt.Fprintf(tw, "\t\tfix: %s\n", f.Fix)
		}
		if f.Status == "FAIL" {
			fails++
		}
	}
	tw.Flush()
	if fails > 0 {
		fmt.Fprintf(stdout, "%d problem(s): fix the FAIL lines first\n", fails)
		return exitError{1}
	}
	fmt.Fprintln(stdout, "bpflab can run here")
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func osID() string {
	b, _ := os.ReadFile("/etc/os-release")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "ID="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
