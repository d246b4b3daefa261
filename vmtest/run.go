package vmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/bpflab/bpflab/vmtest/kernels"
	"github.com/hashicorp/go-hclog"
)

// The defaults of [Config]'s fields, for commands that show them or pass
// them on.
const (
	// DefaultMemoryMiB is the guest's memory.
	DefaultMemoryMiB = 512
	// DefaultCPUs is the guest's vCPU count.
	DefaultCPUs = 1
	// DefaultAccel is the accelerator: KVM once a boot has shown it works.
	DefaultAccel = "auto"
	// DefaultBootTimeout is enough for TCG on a loaded 2-core machine.
	DefaultBootTimeout = 60 * time.Second
	// DefaultRunTimeout bounds the payload's run.
	DefaultRunTimeout = 10 * time.Minute
)

// Config says how to boot. The zero value of each field means its default.
type Config struct {
	// Kernel is the path to a bzImage. Required.
	Kernel string
	// MemoryMiB is the guest's memory (default [DefaultMemoryMiB]).
	MemoryMiB int
	// CPUs is the guest's vCPU count (default [DefaultCPUs]).
	CPUs int
	// Accel is "auto" (default), "kvm" or "tcg". auto uses KVM only if a
	// boot under KVM has been seen to work on this host since it booted.
	Accel string
	// BootTimeout bounds the time from starting QEMU until the init reports
	// (default [DefaultBootTimeout]).
	BootTimeout time.Duration
	// RunTimeout bounds the payload's run (default [DefaultRunTimeout]).
	RunTimeout time.Duration
	// QEMU is the emulator binary (default qemu-system-x86_64 on PATH).
	QEMU string
	// Init is the static binary that becomes the guest's PID 1 and calls
	// [GuestInit] (default: this executable).
	Init string
	// Cmdline is appended to the kernel command line.
	Cmdline string
	// Interactive connects the guest's console to this process's terminal
	// (stdin and stdout) and runs the payload on it; see [Job.Interactive].
	Interactive bool
	// QEMUArgs are appended to QEMU's command line (for debugging, and for
	// tests: -S starts the guest paused, a sure boot hang).
	QEMUArgs []string
	// Stdout and Stderr receive the payload's output as it is produced.
	Stdout, Stderr io.Writer
	// Console, if set, receives the kernel console live.
	Console io.Writer
	// CacheDir holds the KVM verdict (default: none kept).
	CacheDir string
	// Log receives progress and diagnostics (default: discarded).
	Log hclog.Logger

	// Cold boots the kernel even when a saved guest could be restored
	// (see [Run]).
	Cold bool
	// HostView shows the host's files, read-only, at their own paths in
	// the guest, fetched when the payload reads them; writes land in a
	// tmpfs (see hostview.go). Never for a payload that is not trusted
	// with the host's files.
	HostView bool
	// Modules is a directory of the modules the guest's init loads to
	// reach the warm start's port when the kernel does not build them in
	// (default: the modules directory beside Kernel, as 'bpflab kernels
	// fetch' leaves it).
	Modules string
	// WarmCacheMax bounds the saved guests in CacheDir, in bytes (default
	// [DefaultWarmCacheMax]); the least recently used go first.
	WarmCacheMax int64
}

// kvmProbeTimeout is the boot deadline of a first boot under KVM. A KVM
// guest reaches its init in well under a second; one that has not after
// this long is hung (nested virtualisation that opens but never runs).
const kvmProbeTimeout = 8 * time.Second

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.MemoryMiB == 0 {
		out.MemoryMiB = DefaultMemoryMiB
	}
	if out.CPUs == 0 {
		out.CPUs = DefaultCPUs
	}
	if out.Accel == "" {
		out.Accel = DefaultAccel
	}
	if out.BootTimeout == 0 {
		out.BootTimeout = DefaultBootTimeout
	}
	if out.RunTimeout == 0 {
		out.RunTimeout = DefaultRunTimeout
	}
	if out.QEMU == "" {
		out.QEMU = "qemu-system-x86_64"
	}
	if out.Stdout == nil {
		out.Stdout = io.Discard
	}
	if out.Stderr == nil {
		out.Stderr = io.Discard
	}
	if out.Log == nil {
		out.Log = hclog.NewNullLogger()
	}
	if out.WarmCacheMax == 0 {
		out.WarmCacheMax = DefaultWarmCacheMax
	}
	switch out.Accel {
	case "auto", "kvm", "tcg":
	default:
		return out, Errorf(ClassUsage, "unknown accelerator %q: use auto, kvm or tcg", out.Accel)
	}
	return out, nil
}

// Result is a run that reached the payload's end.
type Result struct {
	Status ExitStatus
	// Accel is the accelerator the run used.
	Accel string
	// Warm says the guest was restored from a saved one, not booted.
	Warm bool
	// Boot is the time from starting QEMU to the init's hello; Total the
	// whole run, building the initramfs included.
	Boot, Total time.Duration
	// Console is the tail of the kernel console.
	Console []string
	// QEMU is the emulator's command line.
	QEMU []string
}

// Run boots cfg.Kernel and runs job in it. A returned error is an *[Error]
// with a class; a payload that ran and failed is not an error, its status
// is in the Result.
//
// With a CacheDir, the first run on a kernel (and memory, vCPUs, command
// line, init binary, QEMU) saves a guest whose init waits for work, and
// later runs restore it and hand it the job instead of booting (see
// warm.go); cfg.Cold turns that off. A restore that fails boots the kernel.
func Run(ctx context.Context, cfg Config, job Job) (*Result, error) {
	start := time.Now()
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkKernel(cfg.Kernel); err != nil {
		return nil, err
	}
	qemu, err := exec.LookPath(cfg.QEMU)
	if err != nil {
		return nil, Errorf(ClassInfra, "%s not found: install QEMU (scripts/deps.sh, or apt-get install --no-install-recommends qemu-system-x86)", cfg.QEMU)
	}
	cfg.QEMU = qemu
	if cfg.Init == "" {
		if cfg.Init, err = os.Executable(); err != nil {
			return nil, Errorf(ClassInfra, "finding the bpflab binary for the guest init: %w", err)
		}
	}
	job.Interactive = cfg.Interactive
	job.HostView = cfg.HostView && !cfg.Interactive
	if trees, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg.Kernel), kernels.TreeDir, "*")); job.HostView && len(trees) == 1 {
		job.ModuleTree = trees[0]
	}
	if job.HostView {
		job.HostLinks, job.HostLib = hostRootLinks("/")
	}
	accel := cfg.Accel
	if accel == "auto" {
		accel = chooseAccel(cfg.CacheDir)
	}
	if why := coldOnly(&cfg, accel); why != "" {
		cfg.Log.Debug("booting the kernel", "why", why)
	} else {
		archive, err := jobArchive(cfg.Init, job, false)
		if err != nil {
			return nil, err
		}
		if res, err, ok := runWarm(ctx, &cfg, accel, job, archive); ok {
			if res != nil {
				res.Total = time.Since(start)
			}
			return res, err
		}
	}

	tmp, err := os.MkdirTemp("", "bpflab-vm-")
	if err != nil {
		return nil, Errorf(ClassInfra, "creating a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	initrd := filepath.Join(tmp, "initramfs.cpio")
	if err := writeInitramfs(initrd, &cfg, job); err != nil {
		return nil, err
	}
	res, err := boot(ctx, &cfg, accel, initrd, job, nil)
	if cfg.Accel == "auto" && accel == "kvm" {
		if err != nil && (res == nil || res.Boot == 0) && ctx.Err() == nil && ClassOf(err) != ClassKernel {
			// Under KVM the guest never reached its init: a hang (nested
			// virtualisation that opens but never runs) or QEMU refusing
			// the CPU. Either way TCG is the way to boot on this host.
			cfg.Log.Warn("a guest under KVM did not start, using TCG on this host from now on", "reason", err)
			recordKVM(cfg.CacheDir, false)
			accel = "tcg"
			res, err = boot(ctx, &cfg, accel, initrd, job, nil)
		} else if err == nil {
			recordKVM(cfg.CacheDir, true)
		}
	}
	var e *Error
	if cfg.Accel == "kvm" && errors.As(err, &e) && (res == nil || res.Boot == 0) && (e.Class == ClassInfra || e.Class == ClassBootHang) && !strings.Contains(e.Msg, "--accel") {
		// Asked for outright: say that KVM, not the kernel, is the
		// likely cause (a nested KVM that cannot run this guest).
		e.Msg += "; the guest did not start under KVM: this host's KVM may not run guests (bpflab doctor), boot with --accel tcg or auto"
	}
	for i := 0; i < BootRetries && bootOops(res, err) && ctx.Err() == nil; i++ {
		// The payload never ran: the kernel oopsed on its own while
		// booting. Under TCG with two vCPUs, the 6.18 cloud kernel does
		// so now and then (an int3 while patching its own code, about 1 s
		// into the boot). Boot again.
		cfg.Log.Warn("the kernel oopsed while booting, before bpflab's init started; booting again", "attempt", i+2, "reason", err)
		res, err = boot(ctx, &cfg, accel, initrd, job, nil)
	}
	if res != nil {
		res.Total = time.Since(start)
	}
	return res, err
}

// BootRetries is how often a guest whose kernel oopsed before the init
// started is booted again.
const BootRetries = 2

// bootOops reports whether a run failed with a kernel oops before the
// guest's init started: a kernel bug, not a panic the job caused or one a
// broken image always causes (no init, no root).
func bootOops(res *Result, err error) bool {
	var ve *Error
	if err == nil || !errors.As(err, &ve) || ve.Class != ClassPanic || res != nil && res.Boot != 0 {
		return false
	}
	for _, l := range ve.Console {
		if strings.Contains(l, "Oops:") || strings.Contains(l, "Fatal exception") {
			return true
		}
	}
	return false
}

func checkKernel(p string) error {
	if p == "" {
		return Errorf(ClassUsage, "no kernel given: pass --kernel with an alias or a path")
	}
	ok, err := isKernelImage(p)
	if err != nil {
		return &Error{Class: ClassKernel, Msg: fmt.Sprintf("kernel %s cannot be read: run 'bpflab kernels fetch' or pass an existing image", p), Err: err}
	}
	if !ok {
		return Errorf(ClassKernel, "%s is not an x86 Linux kernel image (no bzImage header): pass a vmlinuz or an alias such as 6.1", p)
	}
	return nil
}

// writeInitramfs puts the init, the job and everything the payload needs
// into a cpio archive at dst.
func writeInitramfs(dst string, cfg *Config, job Job) error {
	r, err := jobArchive(cfg.Init, job, true)
	if err != nil {
		return err
	}
	if err := addKernelConfig(r, cfg.Kernel); err != nil {
		return err
	}
	if job.HostView {
		if err := addModules(r, cfg.modulesDir()); err != nil {
			return err
		}
	}
	return writeArchive(r, dst)
}

// addModules puts the modules the init may load (kernels.WarmModules) in
// the archive.
func addModules(r *Initramfs, dir string) error {
	for _, m := range warmModules(dir) {
		if err := r.File(filepath.Join(warmModulesDir, filepath.Base(m)), m); err != nil {
			return Errorf(ClassInfra, "packing %s: %w", m, err)
		}
	}
	return nil
}

// addKernelConfig puts the kernel's build configuration, kept beside its
// image by 'bpflab kernels fetch' as config-RELEASE, at /boot/config-RELEASE,
// where libbpf and cilium/ebpf look for it (programs with __kconfig externs).
func addKernelConfig(r *Initramfs, kernel string) error {
	configs, _ := filepath.Glob(filepath.Join(filepath.Dir(kernel), "config-*"))
	for _, c := range configs {
		if err := r.File(filepath.Join("/boot", filepath.Base(c)), c); err != nil {
			return Errorf(ClassInfra, "packing %s: %w", c, err)
		}
	}
	return nil
}

// writeArchive writes r to the file dst.
func writeArchive(r *Initramfs, dst string) error {
	f, err := os.Create(dst)
	if err != nil {
		return Errorf(ClassInfra, "writing the initramfs: %w", err)
	}
	if _, err := r.WriteTo(f); err != nil {
		f.Close()
		return Errorf(ClassInfra, "writing the initramfs (is the disk full?): %w", err)
	}
	if err := f.Close(); err != nil {
		return Errorf(ClassInfra, "writing the initramfs (is the disk full?): %w", err)
	}
	return nil
}

// baseArchive holds what every guest's root has: the init (when withInit)
// and the directories and identity files programs expect.
func baseArchive(init string, withInit bool) (*Initramfs, error) {
	r := NewInitramfs()
	if withInit {
		if err := addExecutable(r, "/init", init); err != nil {
			return nil, Errorf(ClassInfra, "packing the guest init %s: %w", init, err)
		}
	}
	for _, d := range []string{"/root", "/tmp", "/run", "/etc", "/bin", "/sbin", "/usr/bin"} {
		if err := r.Dir(d); err != nil {
			return nil, Errorf(ClassInfra, "packing %s: %w", d, err)
		}
	}
	// Minimal identity files so tools that look up users do not fail.
	_ = r.Bytes("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
	_ = r.Bytes("/etc/group", []byte("root:x:0:\n"), 0o644)
	_ = r.Bytes("/etc/hosts", []byte("127.0.0.1 localhost\n"), 0o644)
	return r, nil
}

// jobArchive is the guest's root for job: the base, and everything the
// payload needs. Without the init it is what a warm start unpacks into a
// guest whose init is already running.
func jobArchive(init string, job Job, withInit bool) (*Initramfs, error) {
	r, err := baseArchive(init, withInit)
	if err != nil {
		return nil, err
	}
	if job.ShipDir && job.Dir != "" {
		if err := addPackageDir(r, job.Dir); err != nil {
			return nil, Errorf(ClassInfra, "packing the working directory %s: %w", job.Dir, err)
		}
	} else if job.Dir != "" {
		_ = r.Dir(job.Dir)
	}
	for _, exe := range job.Executables {
		if err := addExecutable(r, exe, exe); err != nil {
			return nil, Errorf(ClassInfra, "packing %s: %w", exe, err)
		}
	}
	for link, target := range job.Symlinks {
		if !r.Has(link) {
			if err := r.Symlink(link, target); err != nil {
				return nil, Errorf(ClassInfra, "packing %s: %w", link, err)
			}
		}
	}
	for guest, host := range job.Files {
		if err := r.File(guest, host); err != nil {
			return nil, Errorf(ClassInfra, "packing %s: %w", host, err)
		}
	}
	if sameFile(job.Args[0], init) {
		// bpflab as its own payload (grading): no second copy.
		if err := r.Symlink(job.Args[0], "/init"); err != nil {
			return nil, Errorf(ClassInfra, "packing the payload: %w", err)
		}
	} else if err := addExecutable(r, job.Args[0], job.Args[0]); err != nil {
		if errors.Is(err, ErrNotExecutable) {
			return nil, &Error{Class: ClassPayload, Msg: fmt.Sprintf("cannot run %s in the guest: pass an ELF executable or a #! script", job.Args[0]), Err: err}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{Class: ClassPayload, Msg: fmt.Sprintf("payload %s does not exist", job.Args[0]), Err: err}
		}
		return nil, Errorf(ClassInfra, "packing the payload: %w", err)
	}
	raw, err := json.Marshal(job)
	if err != nil {
		return nil, Errorf(ClassInfra, "encoding the job: %w", err)
	}
	if err := r.Bytes(jobPath, raw, 0o644); err != nil {
		return nil, Errorf(ClassInfra, "packing the job: %w", err)
	}
	return r, nil
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// addExecutable adds the host binary src at guest path dst, with its ELF
// interpreter and shared libraries at their host paths.
func addExecutable(r *Initramfs, dst, src string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s: %w (not a file with execute permission)", src, ErrNotExecutable)
	}
	deps, err := SharedDeps(src)
	if err != nil {
		return err
	}
	for _, d := range deps {
		if err := r.File(d, d); err != nil {
			return err
		}
	}
	return r.File(dst, src)
}

// maxShippedFile bounds the size of one file copied from the payload's
// working directory; larger files there are left out.
const maxShippedFile = 64 << 20

// addPackageDir adds the regular files directly in dir and its testdata/
// tree, so a test binary finds its fixtures at the same paths.
func addPackageDir(r *Initramfs, dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if err := r.Dir(dir); err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir() && e.Name() == "testdata":
			if err := r.Tree(p, p, nil); err != nil {
				return err
			}
		case e.Type().IsRegular():
			if fi, err := e.Info(); err == nil && fi.Size() <= maxShippedFile {
				if err := r.File(p, p); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// boot runs one QEMU. With w, the guest has the warm start's virtio-serial
// port, which carries the frames: w.saveTo boots a guest to save it there
// once its init is ready (boot returns then, with Boot set), and w.state
// restores a saved guest instead of booting and hands the job to its
// waiting init.
func boot(ctx context.Context, cfg *Config, accel, initrd string, job Job, w *warmStart) (*Result, error) {
	bootTimeout := cfg.BootTimeout
	if accel == "kvm" && cfg.Accel == "auto" && bootTimeout > kvmProbeTimeout {
		bootTimeout = kvmProbeTimeout
	}
	if w != nil && w.state != nil && bootTimeout > warmTimeout {
		bootTimeout = warmTimeout
	}
	consoleR, consoleW, err := os.Pipe()
	if err != nil {
		return nil, Errorf(ClassInfra, "creating a pipe: %w", err)
	}
	defer consoleR.Close()
	dataR, dataW, err := os.Pipe()
	if err != nil {
		consoleW.Close()
		return nil, Errorf(ClassInfra, "creating a pipe: %w", err)
	}
	defer dataR.Close()

	args := qemuArgs(cfg, accel, initrd, 3, 4)
	extra := []*os.File{consoleW, dataW}
	var frameSrc io.Reader = dataR
	var sideFrames io.Reader // the serial port, where a warm init says why it has no port
	var jobPort, filesPort *os.File
	if w != nil || job.HostView {
		// The virtio-serial ports: the warm start's (fd 5) and the host
		// view's (fd 6). A saved guest has both, whether or not the run
		// that restores it uses the host view.
		pairs, err := socketPairs(3)
		if err != nil {
			consoleW.Close()
			dataW.Close()
			return nil, Errorf(ClassInfra, "creating a socket pair: %w", err)
		}
		for _, p := range pairs {
			defer p[0].Close()
			defer p[1].Close()
		}
		jobPort, filesPort = pairs[0][0], pairs[1][0]
		args = append(args, warmDeviceArgs(5, 6)...)
		extra = append(extra, pairs[0][1], pairs[1][1])
		switch {
		case w == nil:
		case w.state != nil:
			args = append(args, "-incoming", "fd:7")
			extra = append(extra, w.state)
		default:
			args = append(args, "-chardev", "socket,id=qmp,fd=7", "-mon", "chardev=qmp,mode=control")
			extra = append(extra, pairs[2][1])
			w.monitor = pairs[2][0]
		}
	}
	if w != nil {
		host := jobPort
		frameSrc, sideFrames = host, dataR
		w.port = host
	}
	cmd := exec.Command(cfg.QEMU, args...)
	cmd.ExtraFiles = extra
	if cfg.Interactive {
		cmd.Stdin, cmd.Stdout = os.Stdin, os.Stdout
	}
	var qerr strings.Builder
	cmd.Stderr = &limitedWriter{w: &qerr, n: 8192}
	// QEMU dies with bpflab, whatever kills bpflab.
	// Its own process group keeps a terminal's Ctrl-C for bpflab, which
	// stops QEMU and cleans up; an interactive QEMU must stay in the
	// foreground group to read the terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: !cfg.Interactive}
	res := &Result{Accel: accel, QEMU: append([]string{cfg.QEMU}, args...)}
	cfg.Log.Debug("starting qemu", "accel", accel, "cmd", ShellQuote(res.QEMU))

	exited := make(chan error, 1)
	if err := startLocked(cmd, exited); err != nil {
		consoleW.Close()
		dataW.Close()
		return nil, Errorf(ClassInfra, "starting %s: %w", cfg.QEMU, err)
	}
	consoleW.Close()
	dataW.Close()
	kill := func() { _ = cmd.Process.Kill() }
	defer kill()
	sendErr := make(chan error, 2)
	for _, f := range extra[2:] {
		if w == nil || f != w.state {
			f.Close()
		}
	}
	if w != nil && w.state != nil {
		go func() { sendErr <- w.wake() }()
	}
	// A guest booted to be saved mounts its host view before it is saved
	// (PrepareHostView), which takes the host's answer to INIT; it has no
	// job, and the runs restored from it serve the view only if they use
	// it.
	if job.HostView || (w != nil && w.saveTo != "") {
		go func() {
			if err := serveHostView(ctx, filesPort, "/"); err != nil {
				cfg.Log.Debug("the host view stopped", "error", err)
			}
		}()
	}

	tail := newConsoleTail(40)
	consoleDone := make(chan struct{})
	go func() {
		tail.consume(consoleR, cfg.Console)
		close(consoleDone)
	}()
	frames := make(chan Frame, 64)
	frameErr := make(chan error, 1)
	go func() {
		fr := NewFrameReader(frameSrc)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				frameErr <- err
				close(frames)
				return
			}
			frames <- f
		}
	}()
	side := make(chan Frame, 1)
	if sideFrames != nil {
		go func() {
			if f, err := NewFrameReader(sideFrames).ReadFrame(); err == nil {
				side <- f
			}
		}()
	}

	files := newFileReceiver(job.Collect)
	defer files.abort()

	t0 := time.Now()
	timer := time.NewTimer(bootTimeout)
	defer timer.Stop()
	var (
		hello    bool
		status   *ExitStatus
		guestErr *Error
		qemuErr  error
		qemuDone bool
	)
	failure := func(c Class, format string, args ...any) *Error {
		e := Errorf(c, format, args...)
		// Wait briefly for the console so the tail holds the last words.
		select {
		case <-consoleDone:
		case <-time.After(500 * time.Millisecond):
		}
		e.Console, _, _ = tail.snapshot()
		res.Console = e.Console
		return e
	}
loop:
	for {
		select {
		case <-ctx.Done():
			kill()
			return nil, &Error{Class: ClassInfra, Msg: "interrupted", Err: ctx.Err()}
		case err := <-sendErr:
			if err != nil {
				kill()
				if w.state == nil {
					return res, failure(ClassInfra, "saving the guest: %w", err)
				}
				return res, failure(ClassInfra, "handing the job to the restored guest: %w", err)
			}
			if w.state == nil && w.sending {
				// Saved.
				return res, nil
			}
		case f := <-side:
			if f.Type == FrameError && len(f.Data) > 0 {
				return res, failure(Class(f.Data[0]), "%s", f.Data[1:])
			}
		case <-tail.panicked:
			// The kernel panicked; with panic=-1 QEMU exits by itself, but a
			// panic that halts would wait for the deadline. Give the trace a
			// moment to reach the console, then stop.
			select {
			case <-exited:
			case <-time.After(time.Second):
			}
			kill()
			return res, failure(ClassPanic, "%s", tail.panicLine)
		case <-timer.C:
			kill()
			if _, panicked, _ := tail.snapshot(); panicked {
				// A panic that halts (panic=0) instead of resetting.
				return res, failure(ClassPanic, "%s", tail.panicLine)
			}
			if !hello && w != nil && w.state != nil {
				return res, failure(ClassBootHang, "the restored guest did not take its job within %v", bootTimeout)
			}
			if w != nil && w.sending && w.state == nil {
				return res, failure(ClassInfra, "saving the guest took over %v", warmSaveTimeout)
			}
			if !hello {
				return res, failure(ClassBootHang, "boot hang: the guest's init did not start within %v (accel %s): raise --boot-timeout on a slow host", bootTimeout, accel)
			}
			return res, failure(ClassTimeout, "payload timed out after %v: raise --run-timeout if it needs longer", cfg.RunTimeout)
		case f, ok := <-frames:
			if !ok {
				frames = nil
				if qemuDone {
					break loop
				}
				continue
			}
			switch f.Type {
			case FrameHello:
				hello = true
				res.Boot = time.Since(t0)
				cfg.Log.Debug("guest init started", "after", res.Boot)
				timer.Reset(cfg.RunTimeout)
			case FrameReady:
				if w != nil && !w.sending {
					w.sending = true
					if w.state == nil {
						res.Boot = time.Since(t0)
						view := "made after each restore"
						if len(f.Data) > 0 && f.Data[0] == readyViewPrepared {
							view = "made"
						}
						cfg.Log.Debug("guest ready to be saved", "after", res.Boot, "hostView", view)
						timer.Reset(warmSaveTimeout)
						go func() { sendErr <- w.save(ctx) }()
					} else {
						cfg.Log.Debug("restored guest ready", "after", time.Since(t0))
						go func() { sendErr <- w.send() }()
					}
				}
			case FrameStdout:
				_, _ = cfg.Stdout.Write(f.Data)
			case FrameStderr:
				_, _ = cfg.Stderr.Write(f.Data)
			case FrameFile, FrameFileData:
				if err := files.handle(f); errors.Is(err, errNotAsked) {
					cfg.Log.Warn("dropping a file from the guest", "error", err)
				} else if err != nil {
					return res, failure(ClassInfra, "receiving a file from the guest: %w", err)
				}
			case FrameError:
				c, msg := ClassInfra, string(f.Data)
				if len(f.Data) > 0 {
					c, msg = Class(f.Data[0]), string(f.Data[1:])
				}
				guestErr = &Error{Class: c, Msg: msg}
			case FrameExit:
				st, err := decodeExitStatus(f.Data)
				if err != nil {
					return res, failure(ClassInfra, "reading the exit status: %w", err)
				}
				// Every file comes before the exit status.
				if err := files.finish(); err != nil {
					return res, failure(ClassInfra, "%w", err)
				}
				status = &st
				if cfg.Interactive {
					// QEMU restores the terminal when it exits by itself;
					// killed, it would leave it raw.
					select {
					case <-exited:
					case <-time.After(10 * time.Second):
					}
				}
				// Everything the guest had to say has arrived.
				kill()
			}
			if status != nil || guestErr != nil {
				break loop
			}
		case qemuErr = <-exited:
			qemuDone = true
			exited = nil
			if frames == nil {
				break loop
			}
			// Drain what the guest wrote before QEMU went away.
			select {
			case <-frameErr:
			case <-time.After(2 * time.Second):
				break loop
			}
		}
	}
	lines, panicked, oom := tail.snapshot()
	res.Console = lines
	switch {
	case status != nil:
		res.Status = *status
		if status.Signal == int(syscall.SIGKILL) && oom {
			return res, failure(ClassOOM, "the guest ran out of memory and killed the payload: raise --memory (now %d MiB)", cfg.MemoryMiB)
		}
		return res, nil
	case guestErr != nil:
		guestErr.Console = lines
		return res, guestErr
	case panicked:
		return res, failure(ClassPanic, "%s", tail.panicLine)
	}
	if qemuDone && !hello {
		msg := strings.TrimSpace(qerr.String())
		if msg != "" {
			if looksLikeKernelLoadError(msg) {
				return res, failure(ClassKernel, "qemu could not load kernel %s: %s", cfg.Kernel, firstLine(msg))
			}
			return res, failure(ClassInfra, "qemu failed: %s", firstLine(msg))
		}
		if len(lines) == 0 {
			return res, failure(ClassKernel, "kernel %s stopped before printing anything: the image is truncated or corrupt; fetch it again (bpflab kernels fetch) or pass another", cfg.Kernel)
		}
		return res, failure(ClassPanic, "the kernel stopped before the guest's init started")
	}
	if qemuErr != nil && !isKilled(qemuErr) {
		return res, failure(ClassInfra, "qemu exited during the run: %v: %s", qemuErr, firstLine(qerr.String()))
	}
	return res, failure(ClassPanic, "the guest stopped without reporting the payload's exit status")
}

// startLocked starts cmd on a goroutine locked to its OS thread, which stays
// alive until cmd exits: Pdeathsig fires when the starting thread exits,
// not the process, so the thread must outlive the child.
func startLocked(cmd *exec.Cmd, exited chan<- error) error {
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	return <-started
}

func isKilled(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return true
		}
	}
	return false
}

func looksLikeKernelLoadError(msg string) bool {
	for _, s := range []string{"kernel", "Kernel", "PVH", "bzImage", "linux"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimPrefix(l, "qemu-system-x86_64: ")
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	q := p
	if len(q) > l.n {
		q = q[:l.n]
	}
	l.n -= len(q)
	_, _ = l.w.Write(q)
	return len(p), nil
}
