// Package lab2 grades lab 2: a kprobe and a kretprobe on the kernel
// function that deletes files (do_unlinkat, renamed filename_unlinkat in
// 7.x kernels) that report each deletion and its result.
//
// Students write only the C file; this package is the loader and grader.
// The loader attaches to whichever of the two functions the running kernel
// has and says which one it chose.
package lab2

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/bpflab/bpflab/harness"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

const (
	entrySection  = "kprobe/do_unlinkat"
	returnSection = "kretprobe/do_unlinkat"
)

func init() { harness.Register(Lab) }

// Lab is lab 2.
var Lab = &harness.Lab{
	ID:        "lab-2",
	Title:     "A kprobe on do_unlinkat reports deleted files, on kernels that renamed it",
	Hook:      "kprobe + kretprobe on `do_unlinkat` (`filename_unlinkat` on 7.x)",
	Teaches:   "kernel functions and their arguments (`struct filename`, CO-RE), return values; functions change between kernels",
	Level:     "beginner",
	MinKernel: "5.10",
	Features: []harness.Feature{
		harness.FeatureBTF, harness.FeatureKprobe, harness.FeatureRingBuf,
		harness.FeatureHelper(ebpf.Kprobe, asm.FnProbeReadKernelStr, "5.5"),
	},
	Dir:      "labs/lab-2",
	Source:   "unlink.bpf.c",
	Solution: "solution/unlink.bpf.c",
	Wants: []harness.ProgramWant{
		{Sections: []string{entrySection, "kprobe/filename_unlinkat"}},
		{Sections: []string{returnSection, "kretprobe/filename_unlinkat"}},
	},
	Checks: append(harness.EventChecks("lab2.h"), []harness.CheckDef{
		{Name: "attach", What: "both programs attach to the function that deletes files"},
		{Name: checkUnlink, What: "every unlink(path) and unlinkat(AT_FDCWD, path, 0), by any process or thread, gives one entry event with the process id, comm and the path as passed"},
		{Name: checkRelative, What: "every unlinkat(dirfd, name, 0) gives one entry event with the name as passed"},
		{Name: checkSuccess, What: "every deletion that succeeded gives one return event with 0"},
		{Name: checkErrors, What: "every deletion that failed gives one return event with its negative errno (ENOENT, EISDIR, ENOTDIR, ENAMETOOLONG, EACCES, EPERM)"},
		{Name: checkRmdir, What: "removing a directory (rmdir, unlinkat with AT_REMOVEDIR) gives no event"},
		{Name: checkOther, What: "creating, renaming, linking, opening, writing and making directories give no event"},
		{Name: checkUnharmed, What: "every process runs all its calls to its end"},
	}...),
	Run:     run,
	Trigger: "trigger.c",
	Symbols: Symbols,
}

// The lab's checks, declared once.
const (
	checkUnlink   = "unlink-reported"
	checkRelative = "unlinkat-relative"
	checkSuccess  = "return-success"
	checkErrors   = "return-errors"
	checkRmdir    = "rmdir-not-reported"
	checkOther    = "other-ops-silent"
	checkUnharmed = "processes-unharmed"
)

// RetprobeMaxActive is how many returns of the function the kretprobe
// tracks at once. The kernel's default (10 on 5.10) lost return events of
// the grader's scenario there.
const RetprobeMaxActive = 64

// Symbols are the names of the function that deletes a file, newest last:
// 7.x kernels moved the work of do_unlinkat into filename_unlinkat, whose
// first two arguments are the same (int dfd, struct filename *name).
var Symbols = []string{"do_unlinkat", "filename_unlinkat"}

// Event kinds, as in lab2.h.
const (
	kindEntry  = 1
	kindReturn = 2
)

// pathLen is PATH_LEN of lab2.h: a path is cut to pathLen-1 bytes.
const pathLen = 256

// rawEvent is struct event of lab2.h, field for field.
type rawEvent struct {
	Pid  uint32
	Kind uint32
	Ret  int64
	Comm [16]byte
	Path [pathLen]byte
}

// Event is struct event of lab2.h, decoded. Fields an event kind does not
// use are zero: the path of a return event, the ret of an entry event.
type Event struct {
	Pid  uint32
	Kind uint32
	Ret  int64
	Comm string
	Path string
}

func decode(b []byte) (Event, error) {
	r, err := harness.Decode[rawEvent](b)
	if err != nil {
		return Event{}, err
	}
	e := Event{Pid: r.Pid, Kind: r.Kind, Ret: r.Ret, Comm: harness.CString(r.Comm[:]), Path: harness.CString(r.Path[:])}
	switch e.Kind {
	case kindEntry:
		e.Ret = 0
	case kindReturn:
		e.Path = ""
	}
	return e, nil
}

// seen is the path as an event carries it: cut to fit struct event.
func seen(p string) string {
	if len(p) > pathLen-1 {
		p = p[:pathLen-1]
	}
	return p
}

// isDeletion: unlink(2), and unlinkat(2) without AT_REMOVEDIR, reach the
// function the lab hooks; rmdir(2) and AT_REMOVEDIR go to do_rmdir.
func isDeletion(a FileArgs) bool {
	return a.Call == "unlink" || a.Call == "unlinkat" && a.Flags&unix.AT_REMOVEDIR == 0
}

// Rule is the lab's rule: every call that reaches the deleting function
// gives an entry event {pid, comm, path as passed} and a return event
// {pid, comm, ret: 0 or -errno}, whatever the outcome and whichever
// thread calls; removing a directory and every other file operation give
// nothing.
func Rule(c *harness.CallResult) harness.Expect[Event] {
	a := c.Args.(FileArgs)
	if !isDeletion(a) {
		if a.Call == "rmdir" || a.Call == "unlinkat" {
			return harness.Expect[Event]{Silent: checkRmdir}
		}
		return harness.Expect[Event]{Silent: checkOther}
	}
	pid, comm := uint32(c.Proc.Pid), c.Proc.Comm
	entry := checkUnlink
	if a.Call == "unlinkat" && a.Dir != "" {
		entry = checkRelative
	}
	ret := checkSuccess
	if a.Want != 0 {
		ret = checkErrors
	}
	// What the call returned; for a call its process died in, what it
	// was planned to return.
	errno := a.Want
	if c.State == harness.Done {
		errno = c.Result.Errno
	}
	return harness.Expect[Event]{Events: []harness.Want[Event]{
		{Check: entry, Event: Event{Pid: pid, Kind: kindEntry, Comm: comm, Path: seen(a.Path)}},
		{Check: ret, Event: Event{Pid: pid, Kind: kindReturn, Ret: -int64(errno), Comm: comm}},
	}}
}

var oracle = &harness.Oracle[Event]{
	Rule: Rule,
	// A hold writes to the file another thread deletes: an event with
	// that path is about the deletion.
	About: func(c *harness.CallResult, e Event) bool {
		a := c.Args.(FileArgs)
		return e.Kind == kindEntry && a.Call != "hold" && e.Path == seen(a.Path)
	},
	Pid:        func(e Event) uint32 { return e.Pid },
	Describe:   describe,
	Hint:       hint,
	LiveCheck:  checkUnharmed,
	StrayCheck: checkOther,
}

func describe(c *harness.CallResult) string {
	a := c.Args.(FileArgs)
	q := func(p string) string {
		if len(p) > 48 {
			return fmt.Sprintf("%q... (%d bytes)", p[:48], len(p))
		}
		return fmt.Sprintf("%q", p)
	}
	dirfd := "AT_FDCWD"
	if a.Dir != "" {
		dirfd = "<fd of " + a.Dir + ">"
	}
	var s string
	switch a.Call {
	case "unlinkat":
		flags := "0"
		if a.Flags&unix.AT_REMOVEDIR != 0 {
			flags = "AT_REMOVEDIR"
		}
		s = fmt.Sprintf("unlinkat(%s, %s, %s)", dirfd, q(a.Path), flags)
	case "hold":
		s = fmt.Sprintf("write(<fd of %s>, buf, 1), held while other threads start deleting", q(a.Path))
	case "rename", "link":
		s = fmt.Sprintf("%s(%s, %s)", a.Call, q(a.Path), q(a.NewPath))
	default:
		s = fmt.Sprintf("%s(%s)", a.Call, q(a.Path))
	}
	if a.Cwd != "" {
		s += " in " + a.Cwd
	}
	if a.Nobody {
		s += " as uid 65534"
	}
	if a.Stage != 0 {
		s += ", while other threads of the process were inside the function too"
	}
	if c.State == harness.Done {
		if c.Result.Errno != 0 {
			s += fmt.Sprintf(" = -%d (%s)", int(c.Result.Errno), errnoName(c.Result.Errno))
		} else {
			s += " = 0"
		}
	}
	return s
}

func errnoName(e syscall.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return e.Error()
}

func hint(f *harness.Failure[Event]) string {
	switch f.Check {
	case checkUnlink, checkRelative:
		switch f.Kind {
		case harness.Missing:
			if f.Every {
				return "no entry event reached the ring buffer: in the kprobe, reserve a struct event with kind EVENT_ENTRY, fill it and submit it"
			}
			if f.Call != nil && f.Call.Args.(FileArgs).Stage != 0 {
				return "several threads of one process were inside the function at once: send the entry event from the kprobe, or keep what you save for the kretprobe per thread (all of bpf_get_current_pid_tgid()), not per process or per CPU"
			}
			return "every call must give an entry event: look for conditions (the caller's name, a count, the dfd) that make your kprobe skip one"
		case harness.Extra:
			return "send one entry event per call, from the kprobe only"
		case harness.Mismatch:
			switch {
			case f.Got.Kind != f.Want.Kind:
				return "set kind to EVENT_ENTRY in the kprobe and EVENT_RETURN in the kretprobe"
			case harness.Unset(uint64(f.Got.Pid), 4):
				return harness.UnsetHint
			case f.Got.Path == "":
				return "the path is empty: read name->name with BPF_CORE_READ, then the string with bpf_probe_read_kernel_str (it is kernel memory, not user memory)"
			case f.Got.Pid != f.Want.Pid:
				return harness.PidHint
			case f.Got.Comm != f.Want.Comm:
				return harness.CommHint
			case strings.HasPrefix(f.Want.Path, f.Got.Path):
				return "the path is cut short: copy up to sizeof(e->path) bytes, the whole buffer lab2.h gives"
			default:
				return "the path is not the name the caller passed: copy the string name->name points to, not the pointer, and do not resolve it"
			}
		}
	case checkSuccess, checkErrors:
		switch f.Kind {
		case harness.Missing:
			if f.Call != nil && f.Call.Args.(FileArgs).Stage != 0 {
				return "several threads of one process were inside the function at once: whatever the kretprobe looks up from the kprobe must be keyed by thread (all of bpf_get_current_pid_tgid()), not by process"
			}
			return "in the kretprobe, send an event with kind EVENT_RETURN and the return value, for every call, whatever it returned"
		case harness.Mismatch:
			if harness.Unset(uint64(f.Got.Ret), 8) || harness.Unset(uint64(f.Got.Pid), 4) {
				return harness.UnsetHint
			}
			if f.Want.Ret < 0 && f.Got.Ret == int64(uint32(f.Want.Ret)) {
				return "the function returns int: declare the kretprobe's argument as int ret, so -2 stays -2 in the 64-bit field"
			}
			return "report the return value itself: the kernel returns 0 or a negative errno"
		}
		return "send one return event per call"
	case checkRmdir, checkOther:
		return "report deletions of files only: attach to the deleting function, and send events only from it"
	case checkUnharmed:
		return "your programs must not stop or kill the processes they watch"
	}
	return ""
}

// fixtures makes what a scenario's calls work on. It writes files, so it
// runs before the program is attached.
type fixtures struct {
	r     *rand.Rand
	dir   string // 0755, root's: plain files and directories
	long  string // a directory whose name makes paths longer than PATH_LEN
	deep  string // nested directories: a file in it has a path of deepLen bytes
	run   string // a directory in /run
	shm   string // a directory in /dev/shm
	stick string // 01777: a sticky directory like /tmp
	err   error
}

// deepLen is the length of a path in fixtures.deep: near PATH_MAX (4096
// with its NUL), and longer than the name a struct filename holds inline
// (EMBEDDED_NAME_MAX, about 4064 bytes), so the kernel keeps it apart from
// the struct: name->name is the path, name->iname is empty.
const deepLen = 4090

// mkdeep makes nested directories under dir whose path, with a file name
// of fileLen bytes, is deepLen bytes long, and returns it.
func mkdeep(dir string, fileLen int) (string, error) {
	left := deepLen - fileLen - 1 - len(dir) // the components and their slashes
	for left > 0 {
		n := min(left, 251) // a slash and up to 250 bytes
		if left-n == 1 {
			n-- // the last component needs a byte of its own
		}
		dir += "/" + strings.Repeat("deep", 63)[:n-1]
		left -= n
	}
	return dir, os.MkdirAll(dir, 0o755)
}

func (f *fixtures) name(prefix string) string {
	return fmt.Sprintf("%s-%08x", prefix, f.r.Uint32())
}

func (f *fixtures) file(dir string) string {
	return f.named(dir, f.name("f"))
}

// named makes a file of that name in dir.
func (f *fixtures) named(dir, name string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, nil, 0o644); err != nil && f.err == nil {
		f.err = err
	}
	return p
}

func (f *fixtures) mkdir(dir string) string {
	p := filepath.Join(dir, f.name("d"))
	if err := os.Mkdir(p, 0o755); err != nil && f.err == nil {
		f.err = err
	}
	return p
}

// A kind of case: what it is and how to make one.
type caseKind struct {
	weight int
	make   func(f *fixtures) FileArgs
}

// deletions are the unlink and unlinkat calls of a scenario: every way a
// deletion can be named and every way it can end.
var deletions = []caseKind{
	{0, func(f *fixtures) FileArgs { return FileArgs{Call: "unlink", Path: f.file(f.dir)} }},
	{0, func(f *fixtures) FileArgs {
		return FileArgs{Call: "unlinkat", Dir: f.dir, Path: filepath.Base(f.file(f.dir))}
	}},
	{1, func(f *fixtures) FileArgs { return FileArgs{Call: "unlinkat", Path: f.file(f.dir)} }},
	{1, func(f *fixtures) FileArgs {
		return FileArgs{Call: "unlink", Cwd: f.dir, Path: filepath.Base(f.file(f.dir))}
	}},
	{1, func(f *fixtures) FileArgs { // a symbolic link: the link is deleted
		p := filepath.Join(f.dir, f.name("l"))
		if err := os.Symlink("/etc/hostname", p); err != nil && f.err == nil {
			f.err = err
		}
		return FileArgs{Call: "unlink", Path: p}
	}},
	{1, func(f *fixtures) FileArgs { // a name with a space and non-ASCII
		p := filepath.Join(f.dir, f.name("fé ü"))
		if err := os.WriteFile(p, nil, 0o644); err != nil && f.err == nil {
			f.err = err
		}
		return FileArgs{Call: "unlink", Path: p}
	}},
	{1, func(f *fixtures) FileArgs { // dot-dot inside a relative name
		sub := f.mkdir(f.dir)
		return FileArgs{Call: "unlinkat", Dir: f.dir, Path: filepath.Base(sub) + "/../" + filepath.Base(f.file(f.dir))}
	}},
	{1, func(f *fixtures) FileArgs { // longer than struct event's path
		return FileArgs{Call: "unlink", Path: f.file(f.long)}
	}},
	{1, func(f *fixtures) FileArgs { // near PATH_MAX: not inline in struct filename
		return FileArgs{Call: "unlink", Path: f.file(f.deep)}
	}},
	// Names a program might take for noise: files in /run and /dev/shm,
	// editor and lock files.
	{1, func(f *fixtures) FileArgs { return FileArgs{Call: "unlink", Path: f.file(f.run)} }},
	{1, func(f *fixtures) FileArgs { return FileArgs{Call: "unlinkat", Path: f.file(f.shm)} }},
	{1, func(f *fixtures) FileArgs { return FileArgs{Call: "unlink", Path: f.named(f.dir, f.name("notes")+"~")} }},
	{1, func(f *fixtures) FileArgs {
		return FileArgs{Call: "unlinkat", Dir: f.dir, Path: filepath.Base(f.named(f.dir, "."+f.name("f")+".swp"))}
	}},
	{1, func(f *fixtures) FileArgs {
		return FileArgs{Call: "unlink", Cwd: f.dir, Path: filepath.Base(f.named(f.dir, f.name("f")+".tmp"))}
	}},
	{1, func(f *fixtures) FileArgs {
		return FileArgs{Call: "unlinkat", Dir: f.run, Path: filepath.Base(f.named(f.run, f.name("f")+".lock"))}
	}},
	{1, func(f *fixtures) FileArgs {
		return FileArgs{Call: "unlink", Path: filepath.Join(f.shm, f.name("missing")+".lock"), Want: unix.ENOENT}
	}},
	{1, func(f *fixtures) FileArgs {
		return FileArgs{Call: "unlink", Path: filepath.Join(f.dir, f.name("missing")), Want: unix.ENOENT}
	}},
	{1, func(f *fixtures) FileArgs {
		return FileArgs{Call: "unlinkat", Dir: f.dir, Path: f.name("missing"), Want: unix.ENOENT}
	}},
	{1, func(f *fixtures) FileArgs { return FileArgs{Call: "unlink", Path: f.mkdir(f.dir), Want: unix.EISDIR} }},
	{1, func(f *fixtures) FileArgs {
		return FileArgs{Call: "unlink", Path: f.file(f.dir) + "/x", Want: unix.ENOTDIR}
	}},
	{1, func(f *fixtures) FileArgs {
		return FileArgs{Call: "unlink", Path: filepath.Join(f.dir, strings.Repeat("n", 300)), Want: unix.ENAMETOOLONG}
	}},
	{1, func(f *fixtures) FileArgs { // no write permission on the directory
		return FileArgs{Call: "unlink", Path: f.file(f.dir), Nobody: true, Want: unix.EACCES}
	}},
	{1, func(f *fixtures) FileArgs { // another user's file in a sticky directory
		return FileArgs{Call: "unlink", Path: f.file(f.stick), Nobody: true, Want: unix.EPERM}
	}},
}

// decoys are calls that must give no event.
var decoys = []caseKind{
	{0, func(f *fixtures) FileArgs { return FileArgs{Call: "rmdir", Path: f.mkdir(f.dir)} }},
	{0, func(f *fixtures) FileArgs {
		return FileArgs{Call: "unlinkat", Dir: f.dir, Path: filepath.Base(f.mkdir(f.dir)), Flags: unix.AT_REMOVEDIR}
	}},
	{0, func(f *fixtures) FileArgs { return FileArgs{Call: "creat", Path: filepath.Join(f.dir, f.name("new"))} }},
	{0, func(f *fixtures) FileArgs {
		return FileArgs{Call: "rename", Path: f.file(f.dir), NewPath: filepath.Join(f.dir, f.name("moved"))}
	}},
	{0, func(f *fixtures) FileArgs { return FileArgs{Call: "mkdir", Path: filepath.Join(f.dir, f.name("dir"))} }},
	{0, func(f *fixtures) FileArgs {
		return FileArgs{Call: "link", Path: f.file(f.dir), NewPath: filepath.Join(f.dir, f.name("hard"))}
	}},
	{0, func(f *fixtures) FileArgs { return FileArgs{Call: "open", Path: f.file(f.dir)} }},
}

// scenario builds the run's processes from r: every kind of deletion and
// decoy, each 2 or 3 times (from a main thread, from another thread, then
// from any), dealt at random to 5 to 7 processes with 1 or 2 extra
// threads, in random order; besides them, a process that deletes a tree of
// many files as rm -rf does, and two whose threads delete at once (see
// together). All have random names, and processes start a few at a time so
// they run together.
//
// A dealt process makes at most 18 deletions (90 calls at most, over 5
// processes or more), the together processes 8: only the rm process
// deletes more than 20 files.
func scenario(r *rand.Rand, f *fixtures) *harness.Scenario {
	// Each kind runs at least twice: once from a main thread (the smallest
	// case a report can show) and once from another thread (so a program
	// that reports thread ids fails every check it touches); the repeats
	// run from any thread.
	var calls []harness.Dealt
	for _, kinds := range [][]caseKind{deletions, decoys} {
		for _, k := range kinds {
			for n := 0; n < 2+r.IntN(2); n++ {
				thread := -1
				if n < 2 {
					thread = n
				}
				calls = append(calls, harness.Dealt{Call: harness.Call{Op: opFile, Args: k.make(f), Weight: k.weight}, Thread: thread})
			}
		}
	}
	r.Shuffle(len(calls), func(i, j int) { calls[i], calls[j] = calls[j], calls[i] })
	procs := make([]*harness.Process, 5+r.IntN(3))
	for i := range procs {
		procs[i] = &harness.Process{Threads: 1 + r.IntN(2)}
	}
	harness.Deal(r, procs, calls)
	procs = append(procs, rmTree(r, f), together(r, f), together(r, f))
	r.Shuffle(len(procs), func(i, j int) { procs[i], procs[j] = procs[j], procs[i] })
	for i, c := range harness.RandomComms(r, len(procs)) {
		procs[i].Comm = c
	}
	return &harness.Scenario{Procs: procs, Together: 3}
}

// rmTree is a process that deletes a tree of 40 to 60 files as rm -rf
// does, from its main thread, as fast as it can: unlinkat(dirfd, name, 0)
// for each file of a directory, then unlinkat(parent, dir, AT_REMOVEDIR).
// A program that reports a process's first deletions only, or so many a
// second, misses most of them.
func rmTree(r *rand.Rand, f *fixtures) *harness.Process {
	p := &harness.Process{Threads: r.IntN(2)}
	top := f.mkdir(f.dir)
	n := 40 + r.IntN(21)
	for n > 0 {
		sub := f.mkdir(top)
		for j := 0; j < 8+r.IntN(8) && n > 0; j, n = j+1, n-1 {
			name := filepath.Base(f.file(sub))
			p.Calls = append(p.Calls, harness.Call{Op: opFile, Args: FileArgs{Call: "unlinkat", Dir: sub, Path: name}, Weight: 1})
		}
		p.Calls = append(p.Calls, harness.Call{Op: opFile, Weight: 1,
			Args: FileArgs{Call: "unlinkat", Dir: top, Path: filepath.Base(sub), Flags: unix.AT_REMOVEDIR}})
	}
	p.Calls = append(p.Calls, harness.Call{Op: opFile, Args: FileArgs{Call: "rmdir", Path: top}, Weight: 1})
	return p
}

// together is a process whose threads are inside the deleting function at
// the same time, in two batches. Each batch is a hold (trigger.c) on the
// main thread and four deletions in one directory, one per other thread:
// the deletion of the held file starts first and waits in the function
// for the file's lock, the others wait there for the directory's, and only
// then does the hold let them go. So every deletion of a batch starts
// before any returns, on every kernel, seed and number of CPUs, and
// deterministically: a program that pairs an entry with its return by
// process (or by CPU) instead of by thread loses or mixes up all but one
// of the four. Two of the four are absolute names and two relative, two
// succeed and two fail, so such a program fails every check on returns,
// or on entries, whichever deletion ends first.
func together(r *rand.Rand, f *fixtures) *harness.Process {
	p := &harness.Process{Threads: 4}
	for range 2 {
		dir := f.mkdir(f.dir)
		held := f.file(dir)
		stage2 := []FileArgs{
			{Call: "unlinkat", Dir: dir, Path: filepath.Base(f.file(dir))},
			{Call: "unlink", Path: filepath.Join(dir, f.name("missing")), Want: unix.ENOENT},
			{Call: "unlinkat", Dir: dir, Path: f.name("missing"), Want: unix.ENOENT},
		}
		r.Shuffle(len(stage2), func(i, j int) { stage2[i], stage2[j] = stage2[j], stage2[i] })
		threads := r.Perm(4)
		p.Calls = append(p.Calls,
			harness.Call{Op: opFile, Args: FileArgs{Call: "hold", Path: held, Flags: len(stage2)}, Weight: 2, Async: true},
			harness.Call{Op: opFile, Args: FileArgs{Call: "unlink", Path: held, Stage: 1}, Thread: 1 + threads[0], Weight: 2, Async: true})
		for i, a := range stage2 {
			a.Stage = 2
			p.Calls = append(p.Calls, harness.Call{Op: opFile, Args: a, Thread: 1 + threads[1+i], Weight: 2, Async: i < len(stage2)-1})
		}
	}
	return p
}

func run(ctx context.Context, g *harness.G) {
	m, ok := harness.RingEvents[rawEvent](g, "events", "event", "lab2.h")
	if !ok {
		return
	}
	sym, err := g.Symbol()
	if err != nil {
		g.Fail("attach", err.Error(), "", "")
		return
	}

	// Everything that writes files happens before the programs are attached,
	// and the directory is removed after they are detached.
	f := &fixtures{r: g.Rand, dir: filepath.Join(g.Dir, "w"), stick: filepath.Join(g.Dir, "sticky")}
	os.Chmod(g.Dir, 0o755)
	for _, d := range []string{f.dir, f.stick} {
		if err := os.Mkdir(d, 0o755); err != nil {
			g.Fail("grader", err.Error(), "", "")
			return
		}
	}
	os.Chmod(f.stick, 0o1777)
	f.long = filepath.Join(f.dir, strings.Repeat("long", 60))
	os.Mkdir(f.long, 0o755)
	f.deep, err = mkdeep(f.dir, len("f-01234567")) // as f.name("f") names files
	if err != nil {
		g.Fail("grader", "making nested directories: "+err.Error(), "", "")
		return
	}
	// Directories of the run's own in /run and /dev/shm (the guest's
	// /dev has no shm: it is made), removed once the programs are
	// detached.
	for _, d := range []*string{&f.run, &f.shm} {
		parent := "/run"
		if d == &f.shm {
			parent = "/dev/shm"
			if err := os.MkdirAll(parent, 0o1777); err != nil {
				g.Fail("grader", err.Error(), "", "")
				return
			}
		}
		*d, err = os.MkdirTemp(parent, "")
		if err != nil {
			g.Fail("grader", err.Error(), "", "")
			return
		}
		defer os.RemoveAll(*d)
		os.Chmod(*d, 0o755)
	}
	sc := scenario(g.Rand, f)
	launcher, err := g.Launcher()
	if err == nil {
		err = launcher.Prepare(sc)
	}
	if err == nil {
		err = f.err
	}
	if err != nil {
		g.Fail("grader", "preparing the scenario: "+err.Error(), "", "")
		return
	}

	out, err := harness.RunScene(ctx, &harness.Scene[Event]{
		Scenario: sc, Oracle: oracle, Events: m, Decode: decode,
		Progs:  []*ebpf.Program{g.Loaded.Prog[entrySection], g.Loaded.Prog[returnSection]},
		Checks: g.Lab.CheckNames()[3:],
		Attach: func() (func(), error) {
			entry, err := link.Kprobe(sym, g.Loaded.Prog[entrySection], nil)
			if err != nil {
				return nil, fmt.Errorf("kprobe on %s: %w", sym, err)
			}
			// The kernel keeps a fixed number of return probes in flight
			// (10 on 5.10); past that a return is missed and its event lost.
			// Ask for more where tracefs allows it, else take the default.
			ret, err := link.Kretprobe(sym, g.Loaded.Prog[returnSection], &link.KprobeOptions{RetprobeMaxActive: RetprobeMaxActive})
			if err != nil {
				ret, err = link.Kretprobe(sym, g.Loaded.Prog[returnSection], nil)
			}
			if err != nil {
				entry.Close()
				return nil, fmt.Errorf("kretprobe on %s: %w", sym, err)
			}
			return func() { ret.Close(); entry.Close() }, nil
		},
	}, launcher)
	if harness.SceneFailed(g, err, nil) {
		return
	}
	g.Report.Attached = sym
	why := ""
	if sym != Symbols[0] {
		why = fmt.Sprintf(" (%s is not in /proc/kallsyms on this kernel: it was renamed)", Symbols[0])
	}
	g.Pass("attach", fmt.Sprintf("kprobe and kretprobe attached to %s%s", sym, why))
	verdicts := out.Remarks(g, "lab2.h")
	harness.Record(g, oracle, verdicts, map[string]string{
		checkUnlink:   "each gave one entry event with the process id, comm and path as passed",
		checkRelative: "each gave one entry event with the name as passed",
		checkSuccess:  "each gave a return event with 0",
		checkErrors:   "each gave a return event with its negative errno",
		checkRmdir:    "no event",
		checkOther:    "no event",
		checkUnharmed: "every process made all its calls",
	})
}

// HasKprobes reports whether a kernel, by its symbol table, was built with
// kprobes (CONFIG_KPROBES), whatever is mounted. Grading leaves it to the
// kernel check (harness.FeatureKprobe); the tests use it to tell a host
// without kprobes.
func HasKprobes(kallsyms []byte) bool {
	_, err := harness.FirstSymbol(bytes.NewReader(kallsyms), []string{"register_kprobe"})
	return err == nil
}
