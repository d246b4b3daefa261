package vmtest

// Warm starts. Booting a kernel under TCG takes seconds; restoring a guest
// saved once its init waits for work takes a fraction of one. The first run
// for a guest configuration boots a guest for a snapshot: its init loads the
// virtio-serial modules (5.10 and 6.1 build them as modules), opens the port
// and says it is ready; the host saves it with QEMU's migration to a file
// and stops it. That run and every later one start a QEMU that loads the
// file (-incoming), wake the init on the port, and send it the host's time,
// fresh entropy and the job's files as a cpio archive; the init unpacks them
// and goes on as after a boot, its frames going back on the same port.
//
// The snapshot lives in CacheDir/warm/KEY, KEY a hash of everything that
// shapes the saved guest: the kernel image, the init binary, the modules,
// the QEMU binary, the machine, memory, vCPUs, accelerator and kernel
// command line. Anything else, and any failure to save or restore, boots
// the kernel as before.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bpflab/bpflab/internal/fileutil"
	"github.com/bpflab/bpflab/vmtest/kernels"
	"golang.org/x/sys/unix"
)

// DefaultWarmCacheMax bounds the saved guests: about twenty of 512 MiB.
const DefaultWarmCacheMax = 2 << 30

// warmTimeout bounds a restore, from starting QEMU to the init taking its
// job; past it the kernel is booted instead.
const warmTimeout = 20 * time.Second

// warmSaveTimeout bounds saving a guest once it is ready.
const warmSaveTimeout = 60 * time.Second

// warmVersion changes when the init's side of a warm start does, so old
// snapshots are never restored by a bpflab that speaks differently.
const warmVersion = "bpflab-warm-4"

// WarmDir is where the saved guests live in a cache directory.
func WarmDir(cacheDir string) string { return filepath.Join(cacheDir, "warm") }

// warmStart is a restore in progress: the snapshot QEMU reads, the archive
// of the job, and the host's end of the port.
type warmStart struct {
	// state is the snapshot to restore; saveTo, when state is nil, the
	// file to save the booted guest to.
	state   *os.File
	saveTo  string
	archive *Initramfs
	port    io.Writer
	monitor io.ReadWriter // QMP, when saving
	sending bool
	view    bool // the job uses the host view
}

// wake asks the restored init to say it is ready.
func (w *warmStart) wake() error {
	return NewFrameWriter(w.port).WriteFrame(FrameWake, nil)
}

// send hands the job to the restored init: the header, then the archive.
func (w *warmStart) send() error {
	h := jobHeader{Time: time.Now().UnixNano(), View: w.view}
	if _, err := rand.Read(h.Seed[:]); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w.port, 1<<20)
	if err := NewFrameWriter(bw).WriteFrame(FrameJob, h.encode()); err != nil {
		return err
	}
	if _, err := w.archive.WriteTo(bw); err != nil {
		return err
	}
	return bw.Flush()
}

// coldOnly says why a run must boot the kernel, or "" if it may be warm.
func coldOnly(cfg *Config, accel string) string {
	switch {
	case cfg.Cold:
		return "asked to (--cold)"
	case cfg.CacheDir == "":
		return "no cache directory for saved guests"
	case cfg.Interactive:
		return "an interactive console"
	case len(cfg.QEMUArgs) > 0:
		return "extra QEMU arguments"
	case accel == "kvm" && cfg.Accel == "auto":
		if _, known := loadKVM(cfg.CacheDir); !known {
			return "KVM not yet proven on this host"
		}
	}
	return ""
}

// warmConfig is the configuration of a guest booted for a snapshot, and of
// every guest restored from it.
func warmConfig(cfg *Config) Config {
	w := *cfg
	w.Cmdline = strings.TrimSpace(warmCmdline + " " + cfg.Cmdline)
	return w
}

// warmDeviceArgs adds the virtio-serial ports: the warm start's, its host
// side the socket at descriptor jobFD, and the host view's at filesFD.
func warmDeviceArgs(jobFD, filesFD int) []string {
	return []string{
		"-device", "virtio-serial-pci,id=warm",
		"-chardev", fmt.Sprintf("socket,id=job,fd=%d", jobFD),
		"-device", "virtserialport,bus=warm.0,chardev=job,name=" + warmPortName,
		"-chardev", fmt.Sprintf("socket,id=files,fd=%d", filesFD),
		"-device", "virtserialport,bus=warm.0,chardev=files,name=" + filesPortName,
	}
}

// socketPairs returns n socket pairs (see socketPair), closing what it
// made if one fails.
func socketPairs(n int) ([][2]*os.File, error) {
	var out [][2]*os.File
	for i := 0; i < n; i++ {
		a, b, err := socketPair()
		if err != nil {
			for _, p := range out {
				p[0].Close()
				p[1].Close()
			}
			return nil, err
		}
		out = append(out, [2]*os.File{a, b})
	}
	return out, nil
}

// socketPair returns two connected stream sockets; the first, for this
// process, is non-blocking so that closing it ends a read in progress.
func socketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "port"), os.NewFile(uintptr(fds[1]), "port-guest"), nil
}

func (c *Config) modulesDir() string {
	if c.Modules != "" {
		return c.Modules
	}
	return filepath.Join(filepath.Dir(c.Kernel), kernels.ModulesDir)
}

// warmModules lists the module files to put in the snapshot's initramfs.
func warmModules(dir string) []string {
	var out []string
	for _, m := range kernels.WarmModules {
		if files, _ := filepath.Glob(filepath.Join(dir, m+".ko*")); len(files) > 0 {
			out = append(out, files[0])
		}
	}
	return out
}

// warmKey hashes everything that shapes a saved guest.
func warmKey(cfg *Config, accel string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nmachine=pc accel=%s memory=%d cpus=%d\ncmdline=%s\n",
		warmVersion, accel, cfg.MemoryMiB, cfg.CPUs, kernelCmdline(cfg))
	configs, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg.Kernel), "config-*"))
	files := append([]string{cfg.Kernel, cfg.Init}, warmModules(cfg.modulesDir())...)
	files = append(files, configs...)
	sums := loadSums(WarmDir(cfg.CacheDir))
	for _, f := range files {
		sum, err := sums.of(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "file %s %s\n", filepath.Base(f), sum)
	}
	sums.save()
	// A QEMU upgrade replaces the binary: its identity stands for its
	// version without running it.
	fi, err := os.Stat(cfg.QEMU)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "qemu=%s %d %d\n", cfg.QEMU, fi.Size(), fi.ModTime().UnixNano())
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// fileSums remembers the sha256 of files by their identity (device,
// inode, size, modification and change times), so that a run hashes
// only the files that changed since the last: the kernel and the bpflab
// binary are tens of megabytes, read on every run otherwise.
type fileSums struct {
	path    string
	known   map[string]string // identity: sum
	used    map[string]bool
	changed bool
}

// sumsFile, in the saved guests' directory, holds the remembered sums.
const sumsFile = "sums"

func loadSums(dir string) *fileSums {
	s := &fileSums{path: filepath.Join(dir, sumsFile), known: map[string]string{}, used: map[string]bool{}}
	b, _ := os.ReadFile(s.path)
	for _, l := range strings.Split(string(b), "\n") {
		if id, sum, ok := strings.Cut(l, "="); ok {
			s.known[id] = sum
		}
	}
	return s
}

func (s *fileSums) of(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", err
	}
	id := fmt.Sprintf("%d:%d:%d:%d.%d:%d.%d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
	s.used[id] = true
	if sum, ok := s.known[id]; ok {
		return sum, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	s.known[id], s.changed = sum, true
	return sum, nil
}

// save writes the sums back when a file was hashed. Past maxSums (a
// bpflab binary rebuilt often leaves many behind) it keeps this run's.
func (s *fileSums) save() {
	if !s.changed || os.MkdirAll(filepath.Dir(s.path), 0o755) != nil {
		return
	}
	var b strings.Builder
	for id, sum := range s.known {
		if len(s.known) <= maxSums || s.used[id] {
			fmt.Fprintf(&b, "%s=%s\n", id, sum)
		}
	}
	// Another run's sums may win: they are as good.
	_ = fileutil.Replace(s.path, strings.NewReader(b.String()), 0o644)
}

// maxSums bounds the remembered sums.
const maxSums = 256

// snapshot is a saved guest: the initramfs it booted from (its restore
// must give QEMU the same) and the migration stream.
type snapshot struct {
	dir string
}

func (s snapshot) initrd() string { return filepath.Join(s.dir, "initrd") }
func (s snapshot) state() string  { return filepath.Join(s.dir, "state") }

// refusedFile, beside a key's directory, says why that configuration
// cannot be saved (a kernel without the port's modules): later runs boot
// without trying again.
func refusedFile(dir string) string { return dir + ".refused" }

// errRefused is a configuration that cannot be saved.
var errRefused = errors.New("cannot be saved")

// runWarm runs job in a restored guest. ok is false when it could not (no
// guest could be saved, or the restore failed before the init took the
// job): the caller boots the kernel; the reason was logged. A kernel that
// does not come up to be saved is the run's failure, as it would be a
// boot's.
func runWarm(ctx context.Context, cfg *Config, accel string, job Job, archive *Initramfs) (res *Result, err error, ok bool) {
	snap, res, err := ensureSnapshot(ctx, cfg, accel)
	var ve *Error
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, &Error{Class: ClassInfra, Msg: "interrupted", Err: ctx.Err()}, true
	case errors.Is(err, errRefused):
		cfg.Log.Debug("booting the kernel", "why", err)
		return nil, nil, false
	case errors.As(err, &ve) && !bootOops(res, err) && (ve.Class == ClassPanic || ve.Class == ClassKernel || ve.Class == ClassBootHang || ve.Class == ClassOOM):
		return res, err, true
	default:
		cfg.Log.Warn("could not save a guest to restore, booting the kernel", "reason", err)
		return nil, nil, false
	}
	state, err := os.Open(snap.state())
	if err != nil {
		cfg.Log.Warn("the saved guest is gone, booting the kernel", "reason", err)
		return nil, nil, false
	}
	defer state.Close()
	now := time.Now()
	_ = os.Chtimes(snap.state(), now, now) // recently used: evicted last
	wcfg := warmConfig(cfg)
	res, err = boot(ctx, &wcfg, accel, snap.initrd(), job, &warmStart{state: state, archive: archive, view: job.HostView})
	if err != nil && (res == nil || res.Boot == 0) && ctx.Err() == nil {
		cfg.Log.Warn("restoring the saved guest failed, booting the kernel", "reason", err)
		if ClassOf(err) != ClassBootHang {
			// QEMU refused the file: it is damaged, or of another QEMU.
			_ = os.RemoveAll(snap.dir)
		}
		return nil, nil, false
	}
	if res != nil {
		res.Warm = true
	}
	return res, err, true
}

// refusedMsg starts the init's report of a guest it cannot get ready to
// be saved.
const refusedMsg = "this guest cannot be saved"

// ensureSnapshot returns the saved guest for cfg, saving one first if there
// is none. Processes that need the same one wait for the first to save it.
// When saving fails, the result of the boot that tried is returned too.
func ensureSnapshot(ctx context.Context, cfg *Config, accel string) (snapshot, *Result, error) {
	key, err := warmKey(cfg, accel)
	if err != nil {
		return snapshot{}, nil, err
	}
	root := WarmDir(cfg.CacheDir)
	snap := snapshot{dir: filepath.Join(root, key)}
	if _, err := os.Stat(snap.state()); err == nil {
		return snap, nil, nil
	}
	if why, err := os.ReadFile(refusedFile(snap.dir)); err == nil {
		return snapshot{}, nil, fmt.Errorf("%w: %s", errRefused, strings.TrimSpace(string(why)))
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return snapshot{}, nil, err
	}
	unlock, err := lockFile(ctx, snap.dir+".lock")
	if err != nil {
		return snapshot{}, nil, err
	}
	defer unlock()
	if _, err := os.Stat(snap.state()); err == nil {
		return snap, nil, nil // saved by another process meanwhile
	}
	start := time.Now()
	cfg.Log.Debug("saving a booted guest for this kernel, so later runs restore it instead of booting", "kernel", cfg.Kernel)
	tmp, err := os.MkdirTemp(root, key+".tmp-")
	if err != nil {
		return snapshot{}, nil, err
	}
	defer os.RemoveAll(tmp)
	res, err := saveGuest(ctx, cfg, accel, snapshot{dir: tmp})
	if err != nil {
		var ve *Error
		if errors.As(err, &ve) && strings.HasPrefix(ve.Msg, refusedMsg) {
			_ = os.WriteFile(refusedFile(snap.dir), []byte(ve.Msg+"\n"), 0o644)
			cfg.Log.Warn("guests of this kernel cannot be saved: every run boots it", "reason", ve.Msg)
			err = fmt.Errorf("%w: %s", errRefused, ve.Msg)
		}
		return snapshot{}, res, err
	}
	if err := os.Rename(tmp, snap.dir); err != nil {
		return snapshot{}, nil, err
	}
	var size int64
	if fi, err := os.Stat(snap.state()); err == nil {
		size = fi.Size()
	}
	cfg.Log.Debug("guest saved", "size", fmt.Sprintf("%.0f MiB", float64(size)/(1<<20)), "took", time.Since(start).Round(time.Millisecond))
	trimWarm(root, cfg.WarmCacheMax, snap.dir, cfg)
	return snap, nil, nil
}

// lockFile takes an exclusive lock on p, waiting for it as long as ctx
// allows.
func lockFile(ctx context.Context, p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// saveGuest boots a guest for a snapshot and saves it to snap once its
// init is ready.
func saveGuest(ctx context.Context, cfg *Config, accel string, snap snapshot) (*Result, error) {
	base, err := baseArchive(cfg.Init, true)
	if err != nil {
		return nil, err
	}
	if err := addKernelConfig(base, cfg.Kernel); err != nil {
		return nil, err
	}
	if err := addModules(base, cfg.modulesDir()); err != nil {
		return nil, err
	}
	if err := writeArchive(base, snap.initrd()); err != nil {
		return nil, err
	}
	wcfg := warmConfig(cfg)
	return boot(ctx, &wcfg, accel, snap.initrd(), Job{}, &warmStart{saveTo: snap.state()})
}

// save saves the guest, ready and waiting for its job, with QEMU's
// migration to a file; QEMU stops the guest once it is saved.
func (w *warmStart) save(ctx context.Context) error {
	q := newQMP(w.monitor)
	if err := q.handshake(); err != nil {
		return fmt.Errorf("qemu's monitor: %w", err)
	}
	uri := "exec:cat > " + ShellQuote([]string{w.saveTo})
	if _, err := q.run("migrate", map[string]any{"uri": uri}); err != nil {
		return err
	}
	for ctx.Err() == nil {
		out, err := q.run("query-migrate", nil)
		if err != nil {
			return err
		}
		var st struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		_ = json.Unmarshal(out, &st)
		switch st.Status {
		case "completed":
			return nil
		case "failed", "cancelled":
			return fmt.Errorf("qemu's migration %s: %s", st.Status, st.ErrorDesc)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ctx.Err()
}

// qmp speaks QEMU's machine protocol, one command at a time.
type qmp struct {
	r *bufio.Reader
	w io.Writer
}

func newQMP(rw io.ReadWriter) *qmp { return &qmp{r: bufio.NewReader(rw), w: rw} }

func (q *qmp) handshake() error {
	if _, err := q.r.ReadBytes('\n'); err != nil { // the greeting
		return err
	}
	_, err := q.run("qmp_capabilities", nil)
	return err
}

// run sends a command and returns its result, skipping events.
func (q *qmp) run(cmd string, args map[string]any) (json.RawMessage, error) {
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, _ := json.Marshal(req)
	if _, err := q.w.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Desc string `json:"desc"`
			} `json:"error"`
		}
		if err := json.Unmarshal(line, &resp); err != nil {
			return nil, fmt.Errorf("%s: %w", cmd, err)
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("%s: %s", cmd, resp.Error.Desc)
		}
		if resp.Return != nil {
			return resp.Return, nil
		}
	}
}

// WarmEntry is one saved guest in the cache.
type WarmEntry struct {
	Dir      string
	Size     int64
	LastUsed time.Time
}

// WarmEntries lists the saved guests, the most recently used first.
func WarmEntries(cacheDir string) []WarmEntry {
	ents, _ := os.ReadDir(WarmDir(cacheDir))
	var out []WarmEntry
	for _, e := range ents {
		if !e.IsDir() || strings.Contains(e.Name(), ".tmp-") {
			continue
		}
		dir := filepath.Join(WarmDir(cacheDir), e.Name())
		st, err := os.Stat(filepath.Join(dir, "state"))
		if err != nil {
			continue
		}
		size := st.Size()
		if fi, err := os.Stat(filepath.Join(dir, "initrd")); err == nil {
			size += fi.Size()
		}
		out = append(out, WarmEntry{Dir: dir, Size: size, LastUsed: st.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastUsed.After(out[j].LastUsed) })
	return out
}

// trimWarm removes the least recently used saved guests until they take at
// most max bytes, keeping keep.
func trimWarm(root string, max int64, keep string, cfg *Config) {
	var total int64
	for _, e := range WarmEntries(filepath.Dir(root)) {
		total += e.Size
		if total > max && e.Dir != keep {
			cfg.Log.Debug("removing a saved guest over the cache bound", "dir", e.Dir)
			_ = os.RemoveAll(e.Dir)
			total -= e.Size
		}
	}
}

// CleanWarm removes every saved guest and what was learnt of the
// configurations that cannot be saved, and returns the bytes freed.
func CleanWarm(cacheDir string) (int64, error) {
	var freed int64
	for _, e := range WarmEntries(cacheDir) {
		freed += e.Size
	}
	err := os.RemoveAll(WarmDir(cacheDir))
	return freed, err
}
