package vmtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"
)

// jobPath is where the host puts the [Job] in the initramfs.
const jobPath = "/bpflab/job.json"

// Job is what the guest init runs: the payload's argv, working directory
// and environment, and the files to send back once it exits.
type Job struct {
	Args []string `json:"args"`
	Dir  string   `json:"dir"`
	Env  []string `json:"env"`
	// Mkdirs are created before the payload starts (output directories
	// named on its command line).
	Mkdirs []string `json:"mkdirs,omitempty"`
	// Collect lists files or directories sent back to the host afterwards.
	Collect []string `json:"collect,omitempty"`

	// Interactive runs the payload on the console (the first serial port)
	// as its controlling terminal, for a shell a person types into.
	Interactive bool `json:"interactive,omitempty"`
	// HostView shows the host's files, read-only, at their paths in the
	// guest (see hostview.go).
	HostView bool `json:"hostView,omitempty"`
	// ModuleTree is the host directory of the kernel's modules, with
	// their indexes, shown at /lib/modules/RELEASE with the host view.
	ModuleTree string `json:"moduleTree,omitempty"`
	// HostLinks are the names of the host root's symbolic links (/lib,
	// /sbin -> usr/... where /usr is merged) and HostLib where /lib points
	// if it is one: the host lists its own root, so the guest asks the
	// view for neither.
	HostLinks []string `json:"hostLinks,omitempty"`
	HostLib   string   `json:"hostLib,omitempty"`

	// root is the root the payload runs in, from the init's working
	// directory: the host view's merged root, or "" for the guest's own
	// (guest side only).
	root string

	// ShipDir copies Dir's files and its testdata/ tree into the guest at
	// the same paths (host side only).
	ShipDir bool `json:"-"`
	// Files maps guest paths to host files to copy in (host side only).
	Files map[string]string `json:"-"`
	// Executables are host programs copied in at the same paths, with
	// their loader and libraries (host side only).
	Executables []string `json:"-"`
	// Symlinks maps guest paths to link targets (host side only).
	Symlinks map[string]string `json:"-"`
}

// guestOS is what the init needs from the kernel. The real one makes
// system calls; tests use a fake so the init's logic runs on the host.
type guestOS interface {
	Mount(source, target, fstype string, flags uintptr, data string) error
	MkdirAll(path string, perm os.FileMode) error
	ReadFile(path string) ([]byte, error)
	ReadDir(path string) ([]os.DirEntry, error)
	WriteFile(path string, data []byte, perm os.FileMode) error
	// OpenPort opens the host channel and returns it with a function that
	// waits until everything written has left the guest.
	OpenPort() (io.Writer, func() error, error)
	// OpenWarmPort loads the modules the virtio-serial port needs, if the
	// kernel does not build them in, and opens the port a warm start hands
	// the job through (see warm.go). Writes to it return once the host has
	// taken the bytes.
	OpenWarmPort() (io.ReadWriter, error)
	// Create creates or truncates a file; Symlink makes a symbolic link,
	// replacing what is at link.
	Create(path string, perm os.FileMode) (io.WriteCloser, error)
	Symlink(target, link string) error
	// SetTime sets the wall clock; AddEntropy mixes seed into the random
	// pool and reseeds the kernel's generator from it.
	SetTime(unixNano int64) error
	AddEntropy(seed []byte) error
	// The host view (see hostview.go). PrepareHostView, in a guest about
	// to be saved, makes it whole and says whether it could; StartHostView
	// starts its relay (and, where nothing was prepared, merging the
	// guest's root with the host's) while the job's files arrive;
	// MountHostView finishes it once they are there, with the job's
	// module tree, if any, at /lib/modules/RELEASE and the host's
	// directory tmp (/tmp/NAME), if any, at its path, and returns the
	// root the payload runs in. DropHostView undoes PrepareHostView for a
	// run without the view.
	PrepareHostView() bool
	StartHostView()
	MountHostView(job *Job, tmp string) (string, error)
	DropHostView()
	// Log writes a line to the kernel console.
	Log(format string, args ...any)
	PowerOff()
}

// mount is one file system the init mounts before the payload runs.
type mount struct {
	fstype, target string
	required       bool
}

// guestMounts are mounted in this order; later ones sit inside earlier ones.
// cilium/ebpf reads /proc/self/mountinfo while its packages initialise, so
// all of them must be in place before the payload starts.
var guestMounts = []mount{
	{"devtmpfs", "/dev", true},
	{"proc", "/proc", true},
	{"sysfs", "/sys", true},
	{"tmpfs", "/run", true},
	{"tmpfs", "/tmp", true},
	{"devpts", "/dev/pts", false},
	{"tracefs", "/sys/kernel/tracing", false},
	{"debugfs", "/sys/kernel/debug", false},
	{"bpf", "/sys/fs/bpf", false},
	{"cgroup2", "/sys/fs/cgroup", false},
	{"securityfs", "/sys/kernel/security", false},
}

// runInit is the init's whole life: mount, say hello, run the job, report,
// power off. It returns only in tests, where PowerOff returns.
func runInit(g guestOS) {
	defer g.PowerOff()
	if runtime.GOMAXPROCS(0) < relayProcs {
		runtime.GOMAXPROCS(relayProcs)
	}
	for _, m := range guestMounts {
		if err := g.MkdirAll(m.target, 0o755); err != nil && m.required {
			g.Log("bpflab-init: mkdir %s: %v", m.target, err)
			return
		}
		mountFn := g.Mount
		if m.target == "/tmp" {
			mountFn = func(source, target, fstype string, flags uintptr, data string) error {
				return mountOverKeeping(g, source, target, fstype)
			}
		}
		if err := mountFn(m.fstype, m.target, m.fstype, 0, ""); err != nil {
			g.Log("bpflab-init: mount %s on %s: %v", m.fstype, m.target, err)
			if m.required {
				return
			}
		}
	}
	var fw *lockedFrameWriter
	warm := false
	if cmdline, _ := g.ReadFile("/proc/cmdline"); hasWord(string(cmdline), warmCmdline) {
		port, err := g.OpenWarmPort()
		if err != nil {
			// Say why on the serial channel: the host boots instead.
			if sp, drain, perr := g.OpenPort(); perr == nil {
				(&lockedFrameWriter{fw: NewFrameWriter(sp)}).sendError(ClassInfra, "%s: %v", refusedMsg, err)
				_ = drain()
			}
			g.Log("bpflab-init: opening the warm start's port: %v", err)
			return
		}
		fw = &lockedFrameWriter{fw: NewFrameWriter(port)}
		var ready []byte
		if g.PrepareHostView() {
			ready = []byte{readyViewPrepared}
		}
		warm = true
		if err := awaitJob(g, fw, port, ready); err != nil {
			fw.sendError(ClassInfra, "receiving the job: %v", err)
			return
		}
	} else {
		port, drain, err := g.OpenPort()
		if err != nil {
			g.Log("bpflab-init: opening the host channel: %v", err)
			return
		}
		fw = &lockedFrameWriter{fw: NewFrameWriter(port)}
		defer func() {
			if err := drain(); err != nil {
				g.Log("bpflab-init: draining the host channel: %v", err)
			}
		}()
	}
	if err := fw.WriteFrame(FrameHello, nil); err != nil {
		g.Log("bpflab-init: writing to the host channel: %v", err)
		return
	}
	raw, err := g.ReadFile(jobPath)
	if err != nil {
		fw.sendError(ClassInfra, "reading the job: %v", err)
		return
	}
	var job Job
	if err := json.Unmarshal(raw, &job); err != nil || len(job.Args) == 0 {
		fw.sendError(ClassInfra, "decoding the job: %v", err)
		return
	}
	if job.HostView {
		root, err := g.MountHostView(&job, tmpTop(job.Dir))
		if err != nil {
			fw.sendError(ClassInfra, "showing the host's files in the guest: %v (--host-view=false runs without them)", err)
			return
		}
		job.root = root
	} else if warm {
		g.DropHostView()
	}
	for _, d := range job.Mkdirs {
		if err := g.MkdirAll(filepath.Join(job.root, d), 0o755); err != nil {
			fw.sendError(ClassInfra, "creating %s: %v", d, err)
			return
		}
	}
	status, err := runPayload(job, fw)
	if err != nil {
		fw.sendError(ClassPayload, "%v", err)
		return
	}
	for _, p := range job.Collect {
		if err := sendFiles(fw, job.root, p); err != nil {
			g.Log("bpflab-init: sending %s back: %v", p, err)
		}
	}
	if err := fw.WriteFrame(FrameExit, status.encode()); err != nil {
		g.Log("bpflab-init: reporting exit status: %v", err)
	}
}

// tmpTop is the directory right under /tmp that holds dir (/tmp/NAME), or
// "" when dir is not under /tmp.
func tmpTop(dir string) string {
	rest, ok := strings.CutPrefix(filepath.Clean(dir), "/tmp/")
	if !ok || rest == "" {
		return ""
	}
	top, _, _ := strings.Cut(rest, "/")
	return "/tmp/" + top
}

// keepDir is where the initramfs's own /tmp stays visible once a tmpfs
// covers /tmp.
const keepDir = "/run/bpflab/initramfs-tmp"

// mountOverKeeping mounts a file system on target while keeping what the
// initramfs has there: payloads such as go test binaries live under /tmp on
// the host, so they sit under /tmp in the archive too. Each entry is bind
// mounted back into the new file system.
func mountOverKeeping(g guestOS, source, target, fstype string) error {
	ents, err := g.ReadDir(target)
	if err != nil || len(ents) == 0 {
		return g.Mount(source, target, fstype, 0, "")
	}
	if err := g.MkdirAll(keepDir, 0o755); err != nil {
		return err
	}
	if err := g.Mount(target, keepDir, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("keeping %s: %w", target, err)
	}
	if err := g.Mount(source, target, fstype, 0, ""); err != nil {
		return err
	}
	for _, e := range ents {
		dst := filepath.Join(target, e.Name())
		if e.IsDir() {
			err = g.MkdirAll(dst, 0o755)
		} else {
			err = g.WriteFile(dst, nil, 0o644)
		}
		if err != nil {
			return err
		}
		if err := g.Mount(filepath.Join(keepDir, e.Name()), dst, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("restoring %s: %w", dst, err)
		}
	}
	return nil
}

// lockedFrameWriter serialises frames from the stdout and stderr copiers.
type lockedFrameWriter struct {
	mu sync.Mutex
	fw *FrameWriter
}

func (l *lockedFrameWriter) WriteFrame(t FrameType, b []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fw.WriteFrame(t, b)
}

func (l *lockedFrameWriter) sendError(c Class, format string, args ...any) {
	msg := append([]byte{byte(c)}, fmt.Sprintf(format, args...)...)
	_ = l.WriteFrame(FrameError, msg)
}

// streamWriter turns writes into frames of one type.
type streamWriter struct {
	fw *lockedFrameWriter
	t  FrameType
}

func (s streamWriter) Write(p []byte) (int, error) {
	if err := s.fw.WriteFrame(s.t, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// runPayload runs the job and returns how it ended. An error means it
// could not be started at all.
func runPayload(job Job, fw *lockedFrameWriter) (ExitStatus, error) {
	cmd := exec.Command(job.Args[0], job.Args[1:]...)
	if job.root != "" {
		// The directory and the program are found in the new root.
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: job.root}
	}
	cmd.Dir = job.Dir
	cmd.Env = job.Env
	cmd.Stdout = streamWriter{fw, FrameStdout}
	cmd.Stderr = streamWriter{fw, FrameStderr}
	if job.Interactive {
		// Opened with a raw open(2), not os.OpenFile: Go would make the
		// descriptor non-blocking for its poller, and the shell would then
		// read EAGAIN as the end of its input.
		fd, err := syscall.Open("/dev/console", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
		if err != nil {
			return ExitStatus{}, fmt.Errorf("opening the console: %w", err)
		}
		tty := os.NewFile(uintptr(fd), "/dev/console")
		defer tty.Close()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		// A session of its own with the console as controlling terminal:
		// job control and Ctrl-C work in the shell.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
	// A background child that keeps the pipes open must not stall the report.
	cmd.WaitDelay = 2 * time.Second
	if err := startUnstalled(cmd); err != nil {
		return ExitStatus{}, describeStartError(job.Args[0], err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return ExitStatus{}, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ExitStatus{Signal: int(ws.Signal())}, nil
		}
		return ExitStatus{Code: ee.ExitCode()}, nil
	case errors.Is(err, exec.ErrWaitDelay):
		return ExitStatus{Code: cmd.ProcessState.ExitCode()}, nil
	}
	return ExitStatus{}, err
}

// startUnstalled starts cmd while the rest of this process keeps
// running. os/exec starts a child with vfork: the forking thread keeps its
// scheduler slot (P) until the child has exec'd, and a stop-the-world (a
// garbage collection's) waits for that thread. When exec'ing the payload
// reads the host view (a directory merged from the guest's files and the
// host's, a script's interpreter), the kernel asks the FUSE relay, which
// is goroutines of this process: they need a second P (the init runs with
// at least two, see [relayProcs]) and no collection may start until the
// child has exec'd, or the guest deadlocks.
func startUnstalled(cmd *exec.Cmd) error {
	old := debug.SetGCPercent(-1) // also waits for a collection under way
	defer debug.SetGCPercent(old)
	return cmd.Start()
}

// relayProcs is the least GOMAXPROCS of the guest's init: one for the
// thread that starts the payload, one for the host view's relay.
const relayProcs = 2

func describeStartError(path string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOEXEC):
		return fmt.Errorf("%s: %w: the guest cannot run this file format", path, ErrNotExecutable)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%s: %w: permission denied (is it chmod +x?)", path, ErrNotExecutable)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w: it or its interpreter is missing in the guest", path, ErrNotExecutable)
	}
	return fmt.Errorf("starting %s: %w", path, err)
}
