package kernels

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// ErrNotServed is returned when the archive no longer serves a pinned
// version (it keeps only the current build of each suite).
var ErrNotServed = errors.New("no longer served by the Debian archive")

// ErrApt is returned when apt cannot reach the archive.
var ErrApt = errors.New("apt could not reach the Debian archive")

// Store is the local cache of kernel images and the private apt state used
// to fetch them.
type Store struct {
	// Dir is the cache root, usually $XDG_CACHE_HOME/bpflab.
	Dir string
	// Lock is the kernel matrix.
	Lock *Lock
	// AptEtc is apt's configuration directory (default /etc/apt), read to
	// find the Debian mirror.
	AptEtc string
	// Log receives progress.
	Log hclog.Logger
	// OnProgress, when set, is told how far the downloads of a fetch have
	// come, every few hundred milliseconds: the command draws a progress
	// bar on a terminal, and prints plain lines elsewhere.
	OnProgress func(Progress)

	updated bool
}

// DefaultDir is $XDG_CACHE_HOME/bpflab, or ~/.cache/bpflab.
func DefaultDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "bpflab")
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".cache", "bpflab")
	}
	return filepath.Join(os.TempDir(), "bpflab-cache")
}

func (s *Store) log() hclog.Logger {
	if s.Log == nil {
		return hclog.NewNullLogger()
	}
	return s.Log
}

// ImagePath is where kernel k's image lives once fetched.
func (s *Store) ImagePath(k Kernel) string {
	return filepath.Join(s.Dir, "kernels", k.Package+"_"+k.Version, "vmlinuz")
}

// layout names what a fetch keeps beside the image; a kernel fetched by a
// bpflab that kept less (before the warm start's modules and the
// configuration) is fetched again.
const layout = "image modules(fuse,overlay) config tree+depmod\n"

// layoutFile records, beside the image, what the fetch kept.
const layoutFile = ".layout"

// Cached returns k's image path if it has been fetched.
func (s *Store) Cached(k Kernel) (string, bool) {
	p := s.ImagePath(k)
	fi, err := os.Stat(p)
	if err != nil || fi.Size() == 0 {
		return p, false
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(p), layoutFile))
	return p, err == nil && string(b) == layout
}

// lock takes the cache's file lock, so that concurrent bpflab processes
// (go test runs packages in parallel) fetch each kernel once.
func (s *Store) lock() (func(), error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Fetch returns k's image, downloading and extracting it first if needed.
// Its errors start "fetching kernel ALIAS:"; errors.Is tells ErrNotServed,
// ErrApt and ErrNoMirror apart.
func (s *Store) Fetch(ctx context.Context, k Kernel) (string, error) {
	if p, ok := s.Cached(k); ok {
		return p, nil
	}
	p, err := s.fetch(ctx, k)
	if err != nil {
		return "", fmt.Errorf("fetching kernel %s: %w", k.Alias, err)
	}
	return p, nil
}

func (s *Store) fetch(ctx context.Context, k Kernel) (string, error) {
	unlock, err := s.lock()
	if err != nil {
		return "", fmt.Errorf("locking the kernel cache %s: %w", s.Dir, err)
	}
	defer unlock()
	if p, ok := s.Cached(k); ok { // another process fetched it meanwhile
		return p, nil
	}
	start := time.Now()
	s.log().Info("fetching kernel "+k.Alias+" (once)", "package", k.Package, "version", k.Version)
	if err := s.ensureLists(ctx, k.Suite); err != nil {
		return "", err
	}
	work, err := os.MkdirTemp(s.Dir, "download-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	download := func() (string, error) {
		var total int64
		if s.OnProgress != nil {
			uris, _ := s.apt(ctx, work, "apt-get", "download", "--print-uris", k.Package+"="+k.Version)
			total = debSize(uris)
		}
		stop := s.watch("downloading "+k.Package, total, dirBytes(work))
		defer stop()
		return s.apt(ctx, work, "apt-get", "download", k.Package+"="+k.Version)
	}
	out, err := download()
	if err != nil && notServed(out) && !s.updated {
		// The lists may be older than the lock: refresh once and retry.
		if err := s.updateLists(ctx); err != nil {
			return "", err
		}
		out, err = download()
	}
	if err != nil {
		if notServed(out) {
			return "", fmt.Errorf("%s %s is %w: run 'bpflab kernels update' to pin the newest build", k.Package, k.Version, ErrNotServed)
		}
		return "", fmt.Errorf("downloading %s: %w", k.Package, aptError(out, err))
	}
	debs, _ := filepath.Glob(filepath.Join(work, "*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("downloading %s: apt-get left %d files", k.Package, len(debs))
	}
	sum, err := fileSHA256(debs[0])
	if err != nil {
		return "", err
	}
	if sum != k.SHA256 {
		return "", fmt.Errorf("%s has SHA256 %s, the lock pins %s: the archive's file changed; run 'bpflab kernels update' if this is a new build", filepath.Base(debs[0]), sum, k.SHA256)
	}
	dst := s.ImagePath(k)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := ExtractDeb(debs[0], dst); err != nil {
		return "", err
	}
	if cs, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), "config-*")); len(cs) == 0 {
		// From 7.x on the configuration is in the linux-base package the
		// image's package depends on, and the modules in linux-modules.
		// Without them the kernel still boots: its guests have no
		// /boot/config-RELEASE, and no host view where overlay is a module.
		for _, pkg := range companions(debs[0], k) {
			if err := s.fetchCompanion(ctx, work, pkg, filepath.Dir(dst)); err != nil {
				s.log().Warn("a part of kernel "+k.Alias+" was not fetched", "package", pkg, "error", err)
			}
		}
	}
	if err := depmod(filepath.Dir(dst)); err != nil {
		s.log().Warn("modprobe will not work in guests of kernel "+k.Alias, "error", err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(dst), layoutFile), []byte(layout), 0o644); err != nil {
		return "", err
	}
	fi, _ := os.Stat(dst)
	s.log().Info("kernel "+k.Alias+" ready", "image", dst, "size", humanSize(fi.Size()), "took", time.Since(start).Round(time.Millisecond))
	return dst, nil
}

// depmod writes the indexes of the module tree kept in dir (modules.dep
// and the others), with the host's depmod, so that modprobe finds modules
// and their dependencies in guests: the packages ship none.
func depmod(dir string) error {
	rels, _ := filepath.Glob(filepath.Join(dir, TreeDir, "*"))
	if len(rels) == 0 {
		return nil
	}
	bin, err := exec.LookPath("depmod")
	for _, p := range []string{"/usr/sbin/depmod", "/sbin/depmod"} {
		if err != nil {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		return errors.New("depmod not found: install kmod (scripts/deps.sh does) and fetch the kernel again")
	}
	// depmod reads BASE/lib/modules or BASE/usr/lib/modules, as it was built.
	if err := os.Symlink("usr/lib", filepath.Join(dir, "lib")); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	for _, r := range rels {
		if out, err := exec.Command(bin, "-b", dir, filepath.Base(r)).CombinedOutput(); err != nil {
			return fmt.Errorf("depmod %s: %v: %s", filepath.Base(r), err, strings.TrimSpace(string(out)))
		}
		if _, err := os.Stat(filepath.Join(r, "modules.dep")); err != nil {
			return fmt.Errorf("depmod wrote no modules.dep for %s", filepath.Base(r))
		}
	}
	return nil
}

// companions are the packages beside k's that hold its configuration and
// modules, as apt-get download takes them (NAME=VERSION): the linux-base
// package deb depends on, and for a linux-binary package its
// linux-modules one.
func companions(deb string, k Kernel) []string {
	var out []string
	if dep, err := exec.Command("dpkg-deb", "-f", deb, "Depends").Output(); err == nil {
		if base := basePackage(strings.TrimPrefix(strings.TrimSpace(string(dep)), "Depends:")); base != "" {
			out = append(out, base)
		}
	}
	if rest, ok := strings.CutPrefix(k.Package, "linux-binary-"); ok {
		out = append(out, "linux-modules-"+rest+"="+k.Version)
	}
	return out
}

// fetchCompanion downloads pkg into the empty directory work and keeps
// what ExtractCompanion keeps in dir.
func (s *Store) fetchCompanion(ctx context.Context, work, pkg, dir string) error {
	old, _ := filepath.Glob(filepath.Join(work, "*.deb"))
	for _, o := range old {
		_ = os.Remove(o)
	}
	if out, err := s.apt(ctx, work, "apt-get", "download", pkg); err != nil {
		return fmt.Errorf("downloading %s: %w", pkg, aptError(out, err))
	}
	debs, _ := filepath.Glob(filepath.Join(work, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("downloading %s: apt-get left %d files", pkg, len(debs))
	}
	ok, err := ExtractCompanion(debs[0], dir)
	if err == nil && !ok {
		err = fmt.Errorf("nothing to keep in %s", pkg)
	}
	return err
}

// basePackage finds, in a Depends field, the linux-base package pinned to
// one version ("linux-base-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1)"),
// as apt-get download takes it: NAME=VERSION.
func basePackage(depends string) string {
	for _, d := range strings.Split(depends, ",") {
		name, ver, _ := strings.Cut(strings.TrimSpace(d), " ")
		ver = strings.TrimSpace(ver)
		if strings.HasPrefix(name, "linux-base-") && strings.HasPrefix(ver, "(= ") && strings.HasSuffix(ver, ")") {
			return name + "=" + strings.TrimSpace(ver[3:len(ver)-1])
		}
	}
	return ""
}

func notServed(out string) bool {
	for _, s := range []string{"was not found", "Unable to locate package", "Can't find a source to download", "No packages found"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

func aptError(out string, err error) error {
	// The first error or failed fetch says it; the rest repeats it.
	msg := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "W: Failed to fetch") {
			msg = strings.Join(strings.Fields(l), " ")
			break
		}
	}
	if msg == "" {
		msg = strings.TrimSpace(out)
	}
	for _, s := range []string{"Could not resolve", "Failed to fetch", "Could not connect", "Temporary failure", "Connection failed", "timed out"} {
		if strings.Contains(out, s) {
			return fmt.Errorf("%w (check the network, or set %s): %s", ErrApt, MirrorEnv, msg)
		}
	}
	return fmt.Errorf("%v: %s", err, msg)
}

// aptDir holds bpflab's private apt state.
func (s *Store) aptDir() string { return filepath.Join(s.Dir, "apt") }

// suites are the lock's suites, sorted.
func (s *Store) suites() []string {
	set := map[string]bool{}
	for _, k := range s.Lock.Kernels {
		set[k.Suite] = true
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ensureLists runs apt-get update unless the private lists already cover suite.
func (s *Store) ensureLists(ctx context.Context, suite string) error {
	m, _ := filepath.Glob(filepath.Join(s.aptDir(), "lists", "*_dists_"+suite+"_main_binary-amd64_Packages*"))
	if len(m) > 0 {
		return nil
	}
	return s.updateLists(ctx)
}

// updateLists writes the private sources list and runs apt-get update.
func (s *Store) updateLists(ctx context.Context) error {
	etc := s.AptEtc
	if etc == "" {
		etc = "/etc/apt"
	}
	mirror, err := FindMirror(etc)
	if err != nil {
		return err
	}
	const keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
	if _, err := os.Stat(keyring); err != nil {
		return fmt.Errorf("%s is missing: install debian-archive-keyring (scripts/deps.sh does)", keyring)
	}
	d := s.aptDir()
	for _, sub := range []string{"lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return err
		}
	}
	var b strings.Builder
	for _, suite := range s.suites() {
		fmt.Fprintf(&b, "deb [signed-by=%s] %s %s main\n", keyring, mirror, suite)
	}
	if err := os.WriteFile(filepath.Join(d, "sources.list"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d, "status"), nil, 0o644); err != nil {
		return err
	}
	start := time.Now()
	s.log().Info("updating the private package lists", "suites", strings.Join(s.suites(), ","))
	stop := s.watch("updating the package lists", 0, newBytes(filepath.Join(d, "lists"), start))
	out, err := s.apt(ctx, d, "apt-get", "update")
	stop()
	if err == nil && (strings.Contains(out, "Failed to fetch") || strings.Contains(out, "\nErr:") || strings.HasPrefix(out, "Err:")) {
		// apt-get update exits 0 when indexes fail to download.
		err = errors.New("some package lists failed to download")
	}
	if err != nil {
		return fmt.Errorf("apt-get update from %s: %w", mirror, aptError(out, err))
	}
	s.updated = true
	s.log().Debug("package lists updated", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// apt runs an apt command against the private state, in dir.
func (s *Store) apt(ctx context.Context, dir, name string, args ...string) (string, error) {
	d := s.aptDir()
	opts := []string{
		"-q",
		"-o", "Dir::Etc::SourceList=" + filepath.Join(d, "sources.list"),
		"-o", "Dir::Etc::SourceParts=" + filepath.Join(d, "sources.list.d"),
		"-o", "Dir::Etc::Preferences=" + filepath.Join(d, "preferences"),
		"-o", "Dir::Etc::PreferencesParts=" + filepath.Join(d, "preferences.d"),
		"-o", "Dir::State::Lists=" + filepath.Join(d, "lists"),
		"-o", "Dir::State::status=" + filepath.Join(d, "status"),
		"-o", "Dir::Cache=" + filepath.Join(d, "cache"),
		"-o", "Debug::NoLocking=true",
		"-o", "APT::Architectures=amd64",
		"-o", "Acquire::Languages=none",
		"-o", "Acquire::http::Timeout=30",
		"-o", "Acquire::Retries=2",
	}
	for _, t := range []string{"Contents-deb", "DEP-11", "DEP-11-icons", "DEP-11-icons-small", "DEP-11-icons-large", "DEP-11-icons-hidpi", "CNF"} {
		opts = append(opts, "-o", "Acquire::IndexTargets::deb::"+t+"::DefaultEnabled=false")
	}
	if os.Geteuid() == 0 {
		// Root apt drops to _apt, which cannot write to a user's cache.
		opts = append(opts, "-o", "APT::Sandbox::User=root")
	}
	if _, err := exec.LookPath(name); err != nil {
		return "", fmt.Errorf("%s not found: fetching kernels needs apt (a Debian or Ubuntu host), or pass --kernel a path to a vmlinuz", name)
	}
	cmd := exec.CommandContext(ctx, name, append(opts, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Change is one kernel whose pin `kernels update` moved.
type Change struct {
	Alias    string
	From, To string
}

// Update refreshes the package lists and pins, for every kernel, the newest
// package matching its pattern in its suite. It returns the new lock and
// what changed; the caller writes the lock.
func (s *Store) Update(ctx context.Context) (*Lock, []Change, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	if err := s.updateLists(ctx); err != nil {
		return nil, nil, err
	}
	names, err := s.apt(ctx, s.aptDir(), "apt-cache", "pkgnames", "linux-")
	if err != nil {
		return nil, nil, fmt.Errorf("apt-cache pkgnames: %w", aptError(names, err))
	}
	nl := &Lock{Default: s.Lock.Default}
	var changes []Change
	for _, k := range s.Lock.Kernels {
		var cands []string
		for _, n := range strings.Fields(names) {
			if ok, _ := path.Match(k.Pattern, n); ok {
				cands = append(cands, n)
			}
		}
		if len(cands) == 0 {
			return nil, nil, fmt.Errorf("kernel %s: no package matches %s", k.Alias, k.Pattern)
		}
		out, err := s.apt(ctx, s.aptDir(), "apt-cache", append([]string{"madison"}, cands...)...)
		if err != nil {
			return nil, nil, fmt.Errorf("apt-cache madison: %w", aptError(out, err))
		}
		best, bestVer := "", ""
		for _, line := range strings.Split(out, "\n") {
			f := strings.Split(line, "|")
			if len(f) != 3 {
				continue
			}
			pkg, ver, src := strings.TrimSpace(f[0]), strings.TrimSpace(f[1]), strings.Fields(f[2])
			if len(src) < 2 || !strings.HasPrefix(src[1], k.Suite+"/") {
				continue
			}
			if best == "" || CompareVersions(ver, bestVer) > 0 {
				best, bestVer = pkg, ver
			}
		}
		if best == "" {
			return nil, nil, fmt.Errorf("kernel %s: no package matching %s in %s", k.Alias, k.Pattern, k.Suite)
		}
		nk := k
		nk.Package, nk.Version = best, bestVer
		if nk.Package != k.Package || nk.Version != k.Version {
			show, err := s.apt(ctx, s.aptDir(), "apt-cache", "show", best+"="+bestVer)
			if err != nil {
				return nil, nil, fmt.Errorf("apt-cache show: %w", aptError(show, err))
			}
			nk.SHA256 = field(show, "SHA256")
			if !sha256RE.MatchString(nk.SHA256) {
				return nil, nil, fmt.Errorf("kernel %s: no SHA256 for %s %s", k.Alias, best, bestVer)
			}
			changes = append(changes, Change{Alias: k.Alias, From: k.Package + " " + k.Version, To: best + " " + bestVer})
		}
		nl.Kernels = append(nl.Kernels, nk)
	}
	return nl, changes, nil
}

func field(stanza, name string) string {
	for _, l := range strings.Split(stanza, "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func humanSize(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
