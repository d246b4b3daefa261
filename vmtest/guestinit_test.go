package vmtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeGuest records what the init asks of the kernel. Files live in a
// temporary directory standing in for the guest's root.
type fakeGuest struct {
	root     string
	mounts   []string
	failFS   map[string]bool
	port     bytes.Buffer
	drained  bool
	poweroff bool
	logs     []string
	// warmIn is what the host sends on the warm start's port.
	warmIn io.Reader
	time   int64
	seed   []byte
}

func (f *fakeGuest) Mount(source, target, fstype string, flags uintptr, data string) error {
	if f.failFS[fstype] {
		return syscall.ENODEV
	}
	kind := fstype
	if flags&syscall.MS_BIND != 0 {
		kind = "bind " + source
	}
	f.mounts = append(f.mounts, kind+" "+target)
	return nil
}

func (f *fakeGuest) MkdirAll(p string, perm os.FileMode) error {
	return os.MkdirAll(filepath.Join(f.root, p), perm)
}

func (f *fakeGuest) ReadFile(p string) ([]byte, error) { return os.ReadFile(filepath.Join(f.root, p)) }

func (f *fakeGuest) ReadDir(p string) ([]os.DirEntry, error) {
	return os.ReadDir(filepath.Join(f.root, p))
}

func (f *fakeGuest) WriteFile(p string, data []byte, perm os.FileMode) error {
	return os.WriteFile(filepath.Join(f.root, p), data, perm)
}

func (f *fakeGuest) OpenPort() (io.Writer, func() error, error) {
	return &f.port, func() error { f.drained = true; return nil }, nil
}

func (f *fakeGuest) OpenWarmPort() (io.ReadWriter, error) {
	if f.warmIn == nil {
		return nil, errors.New("no virtio-serial port")
	}
	return struct {
		io.Reader
		io.Writer
	}{f.warmIn, &f.port}, nil
}

func (f *fakeGuest) Create(p string, perm os.FileMode) (io.WriteCloser, error) {
	return os.OpenFile(filepath.Join(f.root, p), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
}

func (f *fakeGuest) Symlink(target, link string) error {
	return os.Symlink(target, filepath.Join(f.root, link))
}

func (f *fakeGuest) SetTime(ns int64) error { f.time = ns; return nil }

func (f *fakeGuest) MountHostView(*Job, string) (string, error) {
	f.mounts = append(f.mounts, "host view")
	return "", nil
}

func (f *fakeGuest) StartHostView() { f.mounts = append(f.mounts, "host view started") }

func (f *fakeGuest) PrepareHostView() bool {
	f.mounts = append(f.mounts, "host view prepared")
	return true
}

func (f *fakeGuest) DropHostView() { f.mounts = append(f.mounts, "host view dropped") }

func (f *fakeGuest) AddEntropy(seed []byte) error { f.seed = append([]byte(nil), seed...); return nil }

func (f *fakeGuest) Log(format string, args ...any) { f.logs = append(f.logs, format) }

func (f *fakeGuest) PowerOff() { f.poweroff = true }

func newFakeGuest(t *testing.T, job *Job) *fakeGuest {
	t.Helper()
	g := &fakeGuest{root: t.TempDir()}
	if job != nil {
		raw, err := json.Marshal(job)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(g.root, "bpflab"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(g.root, jobPath), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func (f *fakeGuest) frames(t *testing.T) []Frame {
	t.Helper()
	var out []Frame
	fr := NewFrameReader(bytes.NewReader(f.port.Bytes()))
	for {
		fm, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fm)
	}
}

func TestInitRunsJob(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cover", "c.out")
	job := &Job{
		Args:    []string{"/bin/sh", "-c", `echo out; echo err >&2; mkdir -p "$(dirname "$OUT")"; echo data > "$OUT"; exit 3`},
		Env:     []string{"OUT=" + out},
		Dir:     "/",
		Collect: []string{out},
	}
	g := newFakeGuest(t, job)
	runInit(g)

	wantMounts := []string{
		"devtmpfs /dev", "proc /proc", "sysfs /sys", "tmpfs /run",
		"tmpfs /tmp", "devpts /dev/pts", "tracefs /sys/kernel/tracing",
		"debugfs /sys/kernel/debug", "bpf /sys/fs/bpf", "cgroup2 /sys/fs/cgroup",
		"securityfs /sys/kernel/security",
	}
	if diff := cmp.Diff(wantMounts, g.mounts); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	if !g.poweroff || !g.drained {
		t.Errorf("poweroff=%v drained=%v, want both", g.poweroff, g.drained)
	}
	var stdout, stderr string
	var status *ExitStatus
	var files []string
	fs := g.frames(t)
	if len(fs) == 0 || fs[0].Type != FrameHello {
		t.Fatalf("first frame is not hello: %v", fs)
	}
	for _, f := range fs[1:] {
		switch f.Type {
		case FrameStdout:
			stdout += string(f.Data)
		case FrameStderr:
			stderr += string(f.Data)
		case FrameFile:
			name, size, err := decodeFileStart(f.Data)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, fmt.Sprintf("%s=%d:", name, size))
		case FrameFileData:
			if len(files) == 0 {
				t.Fatal("file data before any file")
			}
			files[len(files)-1] += string(f.Data)
		case FrameExit:
			s, err := decodeExitStatus(f.Data)
			if err != nil {
				t.Fatal(err)
			}
			status = &s
		default:
			t.Errorf("unexpected frame %v: %q", f.Type, f.Data)
		}
	}
	if stdout != "out\n" || stderr != "err\n" {
		t.Errorf("stdout %q stderr %q, want them apart", stdout, stderr)
	}
	if diff := cmp.Diff([]string{out + "=5:data\n"}, files); diff != "" {
		t.Errorf("files sent back (-want +got):\n%s", diff)
	}
	if status == nil || *status != (ExitStatus{Code: 3}) {
		t.Errorf("exit status %+v, want code 3", status)
	}
	if fs[len(fs)-1].Type != FrameExit {
		t.Errorf("last frame is %v, want exit", fs[len(fs)-1].Type)
	}
}

func TestInitReportsSignal(t *testing.T) {
	g := newFakeGuest(t, &Job{Args: []string{"/bin/sh", "-c", "kill -KILL $$"}, Dir: "/"})
	runInit(g)
	fs := g.frames(t)
	last := fs[len(fs)-1]
	s, err := decodeExitStatus(last.Data)
	if last.Type != FrameExit || err != nil || s.Signal != int(syscall.SIGKILL) {
		t.Fatalf("last frame %v %+v %v, want exit by SIGKILL", last.Type, s, err)
	}
}

func TestInitStartErrors(t *testing.T) {
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	if err := os.WriteFile(noexec, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"missing":        {filepath.Join(dir, "nope")},
		"not executable": {noexec},
	} {
		t.Run(name, func(t *testing.T) {
			g := newFakeGuest(t, &Job{Args: args, Dir: "/"})
			runInit(g)
			fs := g.frames(t)
			last := fs[len(fs)-1]
			if last.Type != FrameError || Class(last.Data[0]) != ClassPayload {
				t.Fatalf("last frame %v %q, want a payload error", last.Type, last.Data)
			}
			if !g.poweroff {
				t.Error("init did not power off")
			}
		})
	}
}

func TestInitRequiredMountFails(t *testing.T) {
	g := newFakeGuest(t, &Job{Args: []string{"/bin/true"}, Dir: "/"})
	g.failFS = map[string]bool{"proc": true}
	runInit(g)
	if g.port.Len() != 0 {
		t.Errorf("init said hello without /proc")
	}
	if !g.poweroff || len(g.logs) == 0 {
		t.Errorf("poweroff=%v logs=%v: want a logged reason and a power-off", g.poweroff, g.logs)
	}
}

func TestInitOptionalMountFails(t *testing.T) {
	g := newFakeGuest(t, &Job{Args: []string{"/bin/true"}, Dir: "/"})
	g.failFS = map[string]bool{"tracefs": true}
	runInit(g)
	fs := g.frames(t)
	if last := fs[len(fs)-1]; last.Type != FrameExit {
		t.Fatalf("without tracefs the payload did not run: last frame %v", last.Type)
	}
	if !strings.Contains(strings.Join(g.logs, "\n"), "mount") {
		t.Errorf("the failed mount was not logged: %v", g.logs)
	}
}

func TestInitKeepsArchiveTmp(t *testing.T) {
	g := newFakeGuest(t, &Job{Args: []string{"/bin/true"}, Dir: "/"})
	if err := os.MkdirAll(filepath.Join(g.root, "tmp", "go-build1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.root, "tmp", "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	runInit(g)
	want := []string{
		"bind /tmp " + keepDir,
		"tmpfs /tmp",
		"bind " + keepDir + "/file /tmp/file",
		"bind " + keepDir + "/go-build1 /tmp/go-build1",
	}
	var got []string
	for _, m := range g.mounts {
		if strings.Contains(m, "/tmp") {
			got = append(got, m)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mounts over /tmp (-want +got):\n%s", diff)
	}
}

// A guest booted to be saved says it is ready on the warm port, then takes
// the host's time, entropy and the job's files from it, and runs the job
// as after a boot.
func TestInitWarmJob(t *testing.T) {
	g := newFakeGuest(t, nil)
	if err := os.MkdirAll(filepath.Join(g.root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.root, "proc", "cmdline"), []byte("quiet "+warmCmdline+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(g.root, "data")
	job := Job{Args: []string{"/bin/sh", "-c", "cat " + data + "/in.txt; test -x " + data + "/run.sh"}, Dir: "/", HostView: true}
	r := NewInitramfs()
	raw, _ := json.Marshal(job)
	if err := r.Bytes(jobPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	_ = r.Bytes("/data/in.txt", []byte("from the host\n"), 0o644)
	_ = r.Bytes("/data/run.sh", []byte("#!/bin/sh\n"), 0o755)
	_ = r.Symlink("/data/link", "in.txt")
	var in bytes.Buffer
	fw := NewFrameWriter(&in)
	h := jobHeader{Time: 1234567890, View: true}
	h.Seed[0] = 7
	_ = fw.WriteFrame(FrameWake, nil)
	_ = fw.WriteFrame(FrameJob, h.encode())
	if _, err := r.WriteTo(&in); err != nil {
		t.Fatal(err)
	}
	g.warmIn = &in
	runInit(g)

	var types []FrameType
	var stdout string
	for _, f := range g.frames(t) {
		types = append(types, f.Type)
		if f.Type == FrameStdout {
			stdout += string(f.Data)
		}
		if f.Type == FrameExit {
			if s, _ := decodeExitStatus(f.Data); s != (ExitStatus{}) {
				t.Errorf("exit status %+v, want 0 (run.sh unpacked executable)", s)
			}
		}
	}
	want := []FrameType{FrameReady, FrameReady, FrameHello, FrameStdout, FrameExit}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
	if stdout != "from the host\n" {
		t.Errorf("stdout %q", stdout)
	}
	if g.time != h.Time || len(g.seed) != len(h.Seed) || g.seed[0] != 7 {
		t.Errorf("time %d seed %v: the job's header was not applied", g.time, g.seed)
	}
	if target, err := os.Readlink(filepath.Join(data, "link")); err != nil || target != "in.txt" {
		t.Errorf("symlink %q, %v", target, err)
	}
	// Saved with the view prepared; the header starts it before the
	// files arrive, the job finishes it.
	view := g.mounts[len(g.mounts)-3:]
	if diff := cmp.Diff([]string{"host view prepared", "host view started", "host view"}, view); diff != "" {
		t.Errorf("host view (-want +got):\n%s", diff)
	}
}

// Without the warm port, the init says why on the serial channel, so the
// host boots instead of waiting.
func TestInitWarmWithoutPort(t *testing.T) {
	g := newFakeGuest(t, nil)
	if err := os.MkdirAll(filepath.Join(g.root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.root, "proc", "cmdline"), []byte(warmCmdline), 0o644); err != nil {
		t.Fatal(err)
	}
	runInit(g)
	fs := g.frames(t)
	if len(fs) != 1 || fs[0].Type != FrameError || !strings.HasPrefix(string(fs[0].Data[1:]), refusedMsg) {
		t.Fatalf("frames %v, want one error saying the guest cannot be saved", fs)
	}
	if !g.poweroff {
		t.Error("init did not power off")
	}
}

func TestTmpTop(t *testing.T) {
	for dir, want := range map[string]string{
		"/tmp/ci-clone/vmtest": "/tmp/ci-clone",
		"/tmp/x":               "/tmp/x",
		"/tmp":                 "",
		"/tmpfoo/x":            "",
		"/work/main/vmtest":    "",
	} {
		if got := tmpTop(dir); got != want {
			t.Errorf("tmpTop(%q) = %q, want %q", dir, got, want)
		}
	}
}
