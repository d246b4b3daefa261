// Package lab6 grades lab 6: a BPF LSM program on the file_open hook that
// denies opening /etc/passwd, under every name it has, and allows every
// other open.
//
// Unlike lab 1, which matched a name at a system call's entry, the program
// decides on the file being opened. Before it is loaded, the grader puts
// an /etc of the run's own in place (disk.go): ext2 on a loop device, so
// the device's major is not 0, made after a random number of other files,
// so the target's inode number differs from run to run. The grader opens
// the file by absolute and relative names, through a directory
// descriptor, a symbolic link, a hard link (a random name in a random
// directory of its file system) and /proc/self/fd, for reading and
// writing, from threads named like the programs that look up users and
// like kernel workers, and hundreds of times in a row; it opens decoys (a
// copy, another file named passwd, /etc/hosts, the directory /etc, a file
// of /etc with a hard link of its own, by both its names, other files of
// its file system, some of them for writing, and a file with the target's
// inode number on a tmpfs whose device has the target's minor); it checks
// that the file is unchanged, that a descriptor opened before the program
// was attached still reads, and that opening works again once the program
// is detached. The loader gives the program the file's inode number and
// device.
package lab6

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/bpflab/bpflab/harness"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

func init() { harness.Register(Lab) }

const section = "lsm/file_open"

// Target is the file the program guards.
const Target = "/etc/passwd"

// Lab is lab 6.
var Lab = &harness.Lab{
	ID:        "lab-6",
	Title:     "BPF LSM: deny opening /etc/passwd by any name, on the file, not the name",
	Hook:      "BPF LSM hook `file_open`",
	Teaches:   "denying an operation (`-EPERM`), deciding on the file (inode, device), not the name; active LSMs",
	Level:     "advanced",
	MinKernel: "5.10",
	Features: []harness.Feature{
		harness.FeatureBTF, harness.FeatureBPFLSMActive,
	},
	Dir:      "labs/lab-6",
	Source:   "guard.bpf.c",
	Solution: "solution/guard.bpf.c",
	Wants:    []harness.ProgramWant{{Sections: []string{section}}},
	Checks: []harness.CheckDef{
		{Name: "attach", What: "the program attaches to the file_open hook"},
		{Name: checkNames, What: "every open of /etc/passwd by name (absolute, relative to /etc, through a descriptor of /etc, with // and ./ and ..), for reading or writing, by any process or thread whatever its name, every time, fails with EPERM"},
		{Name: checkLinks, What: "every open of /etc/passwd through a symbolic link, a hard link or /proc/self/fd fails with EPERM"},
		{Name: checkDecoys, What: "opening other files opens them: a copy of /etc/passwd, another file named passwd, /etc/hosts, /etc/passwd-, the directory /etc, a file of /etc with a hard link of its own (by both names), other files of its file system, for reading and writing, a file with /etc/passwd's inode number on another file system"},
		{Name: checkEarlier, What: "a descriptor of /etc/passwd opened before the program was attached still reads: the hook is at open"},
		{Name: checkAfter, What: "once the program is detached, /etc/passwd opens again"},
		{Name: checkUnchanged, What: "/etc/passwd is unchanged"},
		{Name: checkUnharmed, What: "every process runs all its calls to its end"},
	},
	ReadObject: readObject,
	Run:        run,
	Trigger:    "trigger.c",
	Build:      build,
}

// The lab's checks, declared once.
const (
	checkNames     = "blocked-by-name"
	checkLinks     = "blocked-by-link"
	checkDecoys    = "others-open"
	checkEarlier   = "earlier-fd-reads"
	checkAfter     = "open-after-detach"
	checkUnchanged = "file-unchanged"
	checkUnharmed  = "processes-unharmed"
)

// inGuest reports whether this grader runs in bpflab's guest, where it may
// create files in /etc.
func inGuest() bool { return os.Getenv("BPFLAB_GUEST") == "1" }

// KernelDev is a device number as the kernel keeps it in s_dev (MKDEV:
// major << 20 | minor), from the one stat(2) returns.
func KernelDev(dev uint64) uint32 {
	return unix.Major(dev)<<20 | unix.Minor(dev)
}

// readObject reads the object and sets target_ino and target_dev (lab6.h)
// to /etc/passwd's. In a guest it first puts the run's own /etc in place
// (disk.go): on a loop device, with an inode number for the target that
// differs from run to run.
func readObject(obj string) (*ebpf.CollectionSpec, error) {
	spec, err := ebpf.LoadCollectionSpec(obj)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"target_ino", "target_dev"} {
		if spec.Variables[name] == nil {
			return nil, objectError{fmt.Sprintf("the object has no variable %s, which the loader sets", name),
				"include lab6.h, which declares target_ino and target_dev, and do not declare them yourself"}
		}
	}
	if inGuest() {
		if prepared, err = prepare(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))); err != nil {
			return nil, objectError{"the grader could not make the run's /etc: " + err.Error(), "not your program's doing: tell the course's staff"}
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(Target, &st); err != nil {
		return nil, err
	}
	for name, v := range map[string]any{"target_ino": st.Ino, "target_dev": KernelDev(st.Dev)} {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, objectError{fmt.Sprintf("setting %s: %v", name, err), "declare it as lab6.h does: include lab6.h and do not declare it yourself"}
		}
	}
	return spec, nil
}

// objectError is an object the loader cannot prepare, with its hint.
type objectError struct{ msg, hint string }

func (e objectError) Error() string { return e.msg }
func (e objectError) Hint() string  { return e.hint }

// A case of the scenario: its check, what it opens, and what it expects.
type openCase struct {
	check string
	args  OpenArgs
	deny  bool // expects EPERM
}

// fixtures are the other names of the target and the decoys, made before
// the program is attached. linkDir is a new directory on the target's file
// system, which holds the target's hard link and the linked decoy's; the
// linked decoy is a file of the target's directory with a hard link of its
// own, so that a file with two links on the target's device is not the
// target.
type fixtures struct {
	symlink, hardlink, copy, other string
	linkDir, linked, linkedLink    string
	// sameIno, when not "", is a file with the target's inode number on a
	// file system of its own (a tmpfs whose device minor is the target's,
	// on major 0): the inode number alone does not name the file, nor
	// does it with the minor alone; the whole device with it does.
	sameIno string
	// filler and fillerW are other files of the target's file system.
	filler, fillerW string
}

// linkParents are where the directory of the hard links may go: those on
// the target's file system (in a guest, where /etc is the run's own file
// system, /etc alone).
var linkParents = []string{"/", "/etc", "/root", "/usr", "/var", "/opt", "/srv", "/home", "/bin", "/sbin", "/usr/bin"}

// randomName is a file name nothing can predict: letters, digits and a
// few punctuation marks, 3 to 14 of them; never the target's name or its
// directory's, which would make a name right by chance.
func randomName(r *rand.Rand) string {
	const first = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	const rest = first + "._-"
	for {
		b := []byte{first[r.IntN(len(first))]}
		if r.IntN(4) == 0 {
			b = append([]byte{'.'}, b...)
		}
		for n := 2 + r.IntN(12); n > 0; n-- {
			b = append(b, rest[r.IntN(len(rest))])
		}
		if s := string(b); s != filepath.Base(Target) && s != filepath.Base(filepath.Dir(Target)) {
			return s
		}
	}
}

// makeLinkDir makes a directory with a random name in a random directory
// on the same file system as the target, where its hard link can be.
func makeLinkDir(r *rand.Rand) (string, error) {
	var st, pst unix.Stat_t
	if err := unix.Stat(Target, &st); err != nil {
		return "", err
	}
	parents := append([]string(nil), linkParents...)
	r.Shuffle(len(parents), func(i, j int) { parents[i], parents[j] = parents[j], parents[i] })
	var errs []error
	for _, p := range parents {
		if unix.Lstat(p, &pst) != nil || pst.Mode&unix.S_IFMT != unix.S_IFDIR || pst.Dev != st.Dev {
			continue
		}
		d := filepath.Join(p, randomName(r))
		err := os.Mkdir(d, 0o755)
		if err == nil {
			return d, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("no directory on %s's file system to make a hard link in: %w", Target, errors.Join(errs...))
}

// newName is a random name in dir that nothing has yet.
func newName(r *rand.Rand, dir string) string {
	for {
		p := filepath.Join(dir, randomName(r))
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p
		}
	}
}

func makeFixtures(r *rand.Rand, dir string, d *disk) (*fixtures, error) {
	f := &fixtures{
		symlink: filepath.Join(dir, fmt.Sprintf("users-%06d", r.IntN(1e6))),
		copy:    filepath.Join(dir, fmt.Sprintf("passwd.bak-%06d", r.IntN(1e6))),
		other:   filepath.Join(dir, fmt.Sprintf("d%06d", r.IntN(1e6)), "passwd"),
	}
	content, err := os.ReadFile(Target)
	if err != nil {
		return nil, err
	}
	if f.linkDir, err = makeLinkDir(r); err != nil {
		return f, err
	}
	f.hardlink = newName(r, f.linkDir)
	f.linked = newName(r, filepath.Dir(Target))
	f.linkedLink = newName(r, f.linkDir)
	if f.linkedLink == f.hardlink {
		f.linkedLink += "_"
	}
	err = errors.Join(
		os.Symlink(Target, f.symlink),
		os.Link(Target, f.hardlink),
		os.WriteFile(f.copy, content, 0o644),
		os.MkdirAll(filepath.Dir(f.other), 0o755),
	)
	if err == nil {
		err = os.WriteFile(f.other, content, 0o644)
	}
	if err == nil {
		err = os.WriteFile(f.linked, content, 0o644)
	}
	if err == nil {
		err = os.Link(f.linked, f.linkedLink)
	}
	if err == nil {
		f.sameIno, err = sameInode(d.decoyFS, content)
	}
	if n := len(d.fillers); n > 0 {
		f.filler, f.fillerW = d.fillers[r.IntN(n)], d.fillers[r.IntN(n)]
	}
	// The other decoys exist in a guest: bpflab's guest may have none.
	for _, p := range []string{"/etc/hosts", "/etc/passwd-"} {
		if _, serr := os.Stat(p); errors.Is(serr, os.ErrNotExist) && err == nil {
			err = os.WriteFile(p, []byte("127.0.0.1 localhost\n"), 0o644)
		}
	}
	return f, err
}

func (f *fixtures) remove() {
	for _, p := range []string{f.hardlink, f.linkedLink, f.linked, f.linkDir} {
		if p != "" {
			os.Remove(p)
		}
	}
}

// maxSameIno bounds the files sameInode makes to reach an inode number.
const maxSameIno = 1 << 16

// sameInode makes in dir, the root of a tmpfs, a file with content and
// the inode number of the target: a tmpfs numbers its inodes from 1, one
// after another (Linux 5.9 on), and the target's is a number of a few
// hundred at most. It returns "" where that number cannot be reached.
func sameInode(dir string, content []byte) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(Target, &st); err != nil {
		return "", err
	}
	name := filepath.Join(dir, "passwd")
	for i := 0; i < maxSameIno; i++ {
		if err := os.WriteFile(name, content, 0o644); err != nil {
			return "", err
		}
		var got unix.Stat_t
		if err := unix.Stat(name, &got); err != nil {
			return "", err
		}
		switch {
		case got.Ino == st.Ino:
			return name, nil
		case got.Ino > st.Ino:
			return "", os.Remove(name)
		}
		if err := os.Remove(name); err != nil {
			return "", err
		}
	}
	return "", nil
}

// trustedComms are names of programs that read /etc/passwd, which a
// program might let through.
var trustedComms = []string{"nscd", "getent", "id", "su", "passwd", "login", "sshd", "unix_chkpwd", "systemd-userdbd"}

// cases are every way the scenario opens the target and the decoys.
func cases(r *rand.Rand, f *fixtures) []openCase {
	rd, wr := unix.O_RDONLY, unix.O_WRONLY
	cs := []openCase{
		{checkNames, OpenArgs{Kind: "absolute", Path: Target, Flags: rd}, true},
		{checkNames, OpenArgs{Kind: "for writing", Path: Target, Flags: wr}, true},
		{checkNames, OpenArgs{Kind: "read-write", Path: Target, Flags: unix.O_RDWR}, true},
		{checkNames, OpenArgs{Kind: "relative to /etc", Path: "passwd", Cwd: "/etc", Flags: rd}, true},
		{checkNames, OpenArgs{Kind: "dirfd of /etc", Path: "passwd", Dir: "/etc", Flags: rd}, true},
		{checkNames, OpenArgs{Kind: "double slash", Path: "//etc//passwd", Flags: rd}, true},
		{checkNames, OpenArgs{Kind: "dot", Path: "/etc/./passwd", Flags: rd}, true},
		{checkNames, OpenArgs{Kind: "dot-dot", Path: "../etc/passwd", Cwd: "/tmp", Flags: rd}, true},
		{checkNames, OpenArgs{Kind: "by kworker", Path: Target, Flags: rd, Comm: fmt.Sprintf("kworker/%d:%d", r.IntN(2), r.IntN(4))}, true},
		{checkNames, OpenArgs{Kind: "by kworker/u", Path: Target, Flags: rd, Comm: fmt.Sprintf("kworker/u%d:%d", 2+r.IntN(4), r.IntN(8))}, true},
		{checkLinks, OpenArgs{Kind: "symbolic link", Path: f.symlink, Flags: rd}, true},
		{checkLinks, OpenArgs{Kind: "hard link", Path: f.hardlink, Flags: rd}, true},
		{checkLinks, OpenArgs{Kind: "/proc/self/fd", Path: Target, Reopen: true, Flags: rd}, true},
		{checkDecoys, OpenArgs{Kind: "copy", Path: f.copy, Flags: rd}, false},
		{checkDecoys, OpenArgs{Kind: "another passwd", Path: f.other, Flags: rd}, false},
		{checkDecoys, OpenArgs{Kind: "hosts", Path: "/etc/hosts", Flags: rd}, false},
		{checkDecoys, OpenArgs{Kind: "backup", Path: "/etc/passwd-", Flags: rd}, false},
		{checkDecoys, OpenArgs{Kind: "directory", Path: "/etc", Flags: rd | unix.O_DIRECTORY}, false},
		{checkDecoys, OpenArgs{Kind: "file with a hard link", Path: f.linked, Flags: rd}, false},
		{checkDecoys, OpenArgs{Kind: "its hard link", Path: f.linkedLink, Flags: rd}, false},
		{checkDecoys, OpenArgs{Kind: "file with a hard link, read-write", Path: f.linked, Flags: unix.O_RDWR}, false},
		{checkDecoys, OpenArgs{Kind: "hosts, for writing", Path: "/etc/hosts", Flags: wr}, false},
	}
	// The programs that look up users open it: their names are no reason
	// to let them through.
	for _, comm := range trustedComms {
		cs = append(cs, openCase{checkNames, OpenArgs{Kind: "by " + comm, Path: Target, Flags: rd, Comm: comm}, true})
	}
	if f.filler != "" {
		cs = append(cs,
			openCase{checkDecoys, OpenArgs{Kind: "another file of its file system", Path: f.filler, Flags: rd}, false},
			openCase{checkDecoys, OpenArgs{Kind: "another file of its file system, for writing", Path: f.fillerW, Flags: wr}, false})
	}
	if f.sameIno != "" {
		cs = append(cs, openCase{checkDecoys, OpenArgs{Kind: "same inode number, another file system", Path: f.sameIno, Flags: rd}, false})
	}
	return cs
}

// floodKind is the case of a process that opens the target hundreds of
// times in a row, after the others: a program that stops denying after a
// number of opens lets one through.
const floodKind = "hundreds of times in a row"

// scenario deals every case, 2 or 3 times (from a main thread, from
// another, then any), to 4 or 5 processes with random names and 1 or 2
// extra threads, in random order. The second scenario, run after it, is
// one process that opens the target 300 to 599 times.
func scenario(r *rand.Rand, cs []openCase) (*harness.Scenario, *harness.Scenario, map[string]openCase) {
	byKind := map[string]openCase{}
	var calls []harness.Dealt
	for _, c := range cs {
		byKind[c.args.Kind] = c
		for n := 0; n < 2+r.IntN(2); n++ {
			thread := -1
			if n < 2 {
				thread = n
			}
			calls = append(calls, harness.Dealt{Call: harness.Call{Op: opOpen, Args: c.args}, Thread: thread})
		}
	}
	r.Shuffle(len(calls), func(i, j int) { calls[i], calls[j] = calls[j], calls[i] })
	procs := make([]*harness.Process, 4+r.IntN(2))
	for i := range procs {
		procs[i] = &harness.Process{Threads: 1 + r.IntN(2)}
	}
	harness.Deal(r, procs, calls)
	for i, c := range harness.RandomComms(r, len(procs)) {
		procs[i].Comm = c
	}
	fc := openCase{checkNames, OpenArgs{Kind: floodKind, Path: Target, Flags: unix.O_RDONLY, Repeat: 300 + r.IntN(300)}, true}
	byKind[fc.args.Kind] = fc
	flood := &harness.Process{Comm: harness.RandomComms(r, 1)[0], Calls: []harness.Call{{Op: opOpen, Args: fc.args}}}
	return &harness.Scenario{Procs: procs, Together: 3}, &harness.Scenario{Procs: []*harness.Process{flood}, Together: 1}, byKind
}

func describe(a OpenArgs) string {
	dirfd := "AT_FDCWD"
	if a.Dir != "" {
		dirfd = "<fd of " + a.Dir + ">"
	}
	flags := map[int]string{unix.O_RDONLY: "O_RDONLY", unix.O_WRONLY: "O_WRONLY", unix.O_RDWR: "O_RDWR",
		unix.O_RDONLY | unix.O_DIRECTORY: "O_RDONLY|O_DIRECTORY"}[a.Flags]
	s := fmt.Sprintf("openat(%s, %q, %s)", dirfd, a.Path, flags)
	if a.Reopen {
		s = fmt.Sprintf("openat(AT_FDCWD, \"/proc/self/fd/N\", %s) of an O_PATH descriptor of %q", flags, a.Path)
	}
	if a.Cwd != "" {
		s += " in " + a.Cwd
	}
	if a.Repeat > 1 {
		s = fmt.Sprintf("%d times %s", a.Repeat, s)
	}
	if a.Comm != "" {
		return fmt.Sprintf("%s by a thread named %q", s, a.Comm)
	}
	return s + " (" + a.Kind + ")"
}

func run(ctx context.Context, g *harness.G) {
	if !inGuest() {
		g.SkipRest("this lab denies opening /etc/passwd to every process of the machine: grade it in a VM (without --kernel host)")
		return
	}
	before, err := os.ReadFile(Target)
	if err != nil {
		g.Fail("grader", err.Error(), "", "")
		return
	}
	d := prepared
	if d == nil {
		g.Fail("grader", "the run's /etc was not made", "", "")
		return
	}
	defer d.remove()
	if d.note != "" {
		g.Report.Notes = append(g.Report.Notes, d.note)
	}
	f, err := makeFixtures(g.Rand, g.Dir, d)
	if f != nil {
		defer f.remove()
	}
	if err != nil {
		g.Fail("grader", "making the scenario's files: "+err.Error(), "", "")
		return
	}
	sc, flood, byKind := scenario(g.Rand, cases(g.Rand, f))
	launcher, err := g.Launcher()
	if err == nil {
		err = errors.Join(launcher.Prepare(sc), launcher.Prepare(flood))
	}
	if err != nil {
		g.Fail("grader", "preparing the scenario: "+err.Error(), "", "")
		return
	}
	// Opened before attaching; read while attached.
	early, err := os.Open(Target)
	if err != nil {
		g.Fail("grader", err.Error(), "", "")
		return
	}
	defer early.Close()

	started, err := launcher.Start(ctx, sc)
	if started != nil {
		defer started.Kill()
	}
	var floodStarted *harness.Started
	if err == nil {
		floodStarted, err = launcher.Start(ctx, flood)
		if floodStarted != nil {
			defer floodStarted.Kill()
		}
	}
	if err != nil {
		g.Fail("grader", "starting the scenario: "+err.Error(), "", "")
		return
	}
	l, err := link.AttachLSM(link.LSMOptions{Program: g.Loaded.Prog[section]})
	if err != nil {
		g.Fail("attach", "attaching to lsm/file_open: "+err.Error(), harness.AttachHint(err), "")
		return
	}
	var b [1]byte
	_, earlyErr := early.ReadAt(b[:], 0)
	results, err := started.Go(ctx)
	if err == nil {
		var more []*harness.ProcResult
		more, err = floodStarted.Go(ctx)
		results = append(results, more...)
	}
	l.Close()
	if err != nil {
		g.Fail("grader", "running the scenario: "+err.Error(), "", "")
		return
	}
	g.Pass("attach", "attached to the LSM hook file_open")
	judge(g, results, byKind)

	if earlyErr != nil {
		g.Fail(checkEarlier, "reading a descriptor of /etc/passwd opened before the program was attached: "+earlyErr.Error(),
			"decide at open (file_open), and only for opens: a descriptor already open is not yours to stop", "")
	} else {
		g.Pass(checkEarlier, "a descriptor opened before attaching read its byte")
	}
	if fd, err := unix.Open(Target, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		g.Fail(checkAfter, "opening /etc/passwd after the program was detached: "+err.Error(), "", "")
	} else {
		unix.Close(fd)
		g.Pass(checkAfter, "/etc/passwd opens once the program is detached")
	}
	after, err := os.ReadFile(Target)
	if err != nil || !bytes.Equal(before, after) {
		g.Fail(checkUnchanged, fmt.Sprintf("/etc/passwd changed: sha256 %x before, %x after", sha256.Sum256(before), sha256.Sum256(after)), "deny; never write", "")
	} else {
		g.Pass(checkUnchanged, fmt.Sprintf("sha256 %x before and after", sha256.Sum256(after)))
	}
}

// judge compares every call's result with its case.
func judge(g *harness.G, results []*harness.ProcResult, byKind map[string]openCase) {
	type failure struct {
		words string
		w     int
		hint  string
	}
	fails := map[string][]failure{}
	n := map[string]int{}
	var unharmed []string
	for _, p := range results {
		if p.Done() != len(p.Calls) {
			unharmed = append(unharmed, fmt.Sprintf("process %d (%q) made %d of its %d calls", p.Pid, p.Comm, p.Done(), len(p.Calls)))
		}
		for _, c := range p.Calls {
			a := c.Args.(OpenArgs)
			oc := byKind[a.Kind]
			n[oc.check]++
			who := fmt.Sprintf("by process %d (%q)", p.Pid, p.Comm)
			if c.Tid != p.Pid {
				who = fmt.Sprintf("from a second thread of process %d (%q, tid %d)", p.Pid, p.Comm, c.Tid)
			}
			fail := func(what, hint string) {
				w := c.Weight
				if c.Thread > 0 {
					w++
				}
				if a.Comm != "" || a.Repeat > 1 {
					w += 2 // a plain open, if one failed too, says more
				}
				fails[oc.check] = append(fails[oc.check], failure{fmt.Sprintf("%s %s: %s", describe(a), who, what), w, hint})
			}
			switch {
			case c.State != harness.Done:
				fail("the process ended before the call", "your program must not stop or kill processes")
			case oc.deny && c.Result.Errno == syscall.EPERM:
			case oc.deny && c.Result.Errno == 0:
				what := "it opened; want EPERM"
				if n, ok := strings.CutPrefix(c.Result.Note, "opens:"); ok {
					what = fmt.Sprintf("open number %s opened; want EPERM every time", n)
				}
				fail(what, denyHint(oc.check, a))
			case oc.deny:
				fail(fmt.Sprintf("it failed with %s; want EPERM", unix.ErrnoName(c.Result.Errno)), "return -EPERM (-1): the LSM hook's return value is the errno the open fails with")
			case c.Result.Errno != 0:
				fail(fmt.Sprintf("it failed with %s; want it to open", unix.ErrnoName(c.Result.Errno)), "deny only /etc/passwd itself, the inode target_ino on the device target_dev; a copy, another file named passwd, other files of /etc, other files with several links open")
			}
		}
	}
	for _, check := range []string{checkNames, checkLinks, checkDecoys} {
		f := fails[check]
		if len(f) == 0 {
			what := "EPERM every time"
			if check == checkDecoys {
				what = "every one opened"
			}
			g.Pass(check, fmt.Sprintf("%d case(s): %s", n[check], what))
			continue
		}
		best := 0
		for i := range f {
			if f[i].w < f[best].w {
				best = i
			}
		}
		var rest []string
		for i := range f {
			if i != best && len(rest) < 10 {
				rest = append(rest, f[i].words)
			}
		}
		g.Fail(check, fmt.Sprintf("%s [%d of %d cases wrong]", f[best].words, len(f), n[check]), f[best].hint, strings.Join(rest, "\n"))
	}
	if len(unharmed) > 0 {
		g.Fail(checkUnharmed, unharmed[0], "your program must decide on opens, not stop processes", strings.Join(unharmed[1:], "\n"))
	} else {
		g.Pass(checkUnharmed, fmt.Sprintf("%d processes made all their calls", len(results)))
	}
}

func denyHint(check string, a OpenArgs) string {
	switch {
	case a.Comm != "":
		return "who opens it does not matter: deny it to every process, whatever its name (a name is whatever a process sets, kernel threads' included)"
	case a.Repeat > 1:
		return "deny it every time: no count, no budget, nothing that changes from one open to the next"
	}
	if check == checkLinks {
		return "a link or /proc/self/fd names the same file by another path: compare the file (its inode number and device), not a name or a path"
	}
	return "the file is opened: compare file->f_inode's i_ino with target_ino and i_sb->s_dev with target_dev, and return -EPERM when both match"
}
