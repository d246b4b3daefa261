// Package lab1 grades lab 1: a tracepoint program on
// syscalls/sys_enter_openat that reports every process opening /etc/passwd
// and, in part 2, kills it.
//
// Students write only the C file; this package is the loader and grader.
// The lab's rule is [Rule]: one function from a call to the events and
// the reaction it must get. The grader runs a [scenario] of many processes
// and threads with random names, every kind of openat argument, repeated
// cases and near-miss decoys, and compares all of it with the rule.
package lab1

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bpflab/bpflab/harness"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

const section = "tracepoint/syscalls/sys_enter_openat"

// The lab's checks, declared once.
const (
	checkReported = "passwd-reported"
	checkExact    = "exact-match"
	checkRelative = "relative-name-rule"
	checkKill     = "react-kill"
	checkControl  = "react-control"
)

func init() { harness.Register(Lab) }

// Lab is lab 1.
var Lab = &harness.Lab{
	ID:        "lab-1",
	Title:     "A tracepoint on sys_enter_openat catches opens of /etc/passwd",
	Hook:      "tracepoint `syscalls/sys_enter_openat`",
	Teaches:   "events through a ring buffer; the name as passed; reacting (kill the opener of `/etc/passwd`); pid and thread id",
	Level:     "beginner",
	MinKernel: "5.10",
	Features: []harness.Feature{
		harness.FeatureBTF, harness.FeatureTracepoint, harness.FeatureRingBuf,
		harness.FeatureHelper(ebpf.TracePoint, asm.FnProbeReadUserStr, "5.5"), harness.FeatureHelper(ebpf.TracePoint, asm.FnSendSignal, "5.3"),
	},
	Dir:      "labs/lab-1",
	Source:   "openat.bpf.c",
	Solution: "solution/openat.bpf.c",
	Wants: []harness.ProgramWant{{
		Sections: []string{section, "tp/syscalls/sys_enter_openat"},
	}},
	Checks: append(harness.EventChecks("lab1.h"), []harness.CheckDef{
		{Name: "attach", What: "the program attaches to syscalls/sys_enter_openat"},
		{Name: checkReported, What: "every openat of /etc/passwd, by any process or thread, with any dfd, flags and mode, gives one event with the process id, comm and path"},
		{Name: checkExact, What: "opening any other name (near misses included) gives no event"},
		{Name: checkRelative, What: "the same file under another name (relative, dirfd, //, ./, symlink) gives no event: the rule is the name as passed"},
		{Name: checkKill, What: "every process that opens /etc/passwd is killed by SIGKILL in that call"},
		{Name: checkControl, What: "every other process runs to its end"},
	}...),
	Run:     run,
	Trigger: "trigger.c",
}

// Target is the name the lab watches.
const Target = "/etc/passwd"

// pathLen is PATH_LEN of lab1.h: a path is cut to pathLen-1 bytes.
const pathLen = 256

// rawEvent is struct event of lab1.h, field for field.
type rawEvent struct {
	Pid  uint32
	Comm [16]byte
	Path [pathLen]byte
}

// Event is struct event of lab1.h, decoded.
type Event struct {
	Pid  uint32
	Comm string
	Path string
}

func decode(b []byte) (Event, error) {
	r, err := harness.Decode[rawEvent](b)
	if err != nil {
		return Event{}, err
	}
	return Event{Pid: r.Pid, Comm: harness.CString(r.Comm[:]), Path: harness.CString(r.Path[:])}, nil
}

// seen is the name the kernel reads for a call: the path up to its NUL,
// cut to fit struct event.
func seen(a OpenArgs) string {
	p, _, _ := strings.Cut(a.Path, "\x00")
	if len(p) > pathLen-1 {
		p = p[:pathLen-1]
	}
	return p
}

// Rule is the lab's rule: an openat whose filename, as passed, is exactly
// /etc/passwd gives one event {pid, comm, path} and kills the caller,
// whatever its dfd, flags and mode, whichever thread makes it. Any other
// name gives nothing, also when it names the same file: at
// sys_enter_openat the kernel has not resolved the name yet. decoy says
// which check judges a call that must stay silent.
func Rule(c *harness.CallResult) harness.Expect[Event] {
	a := c.Args.(OpenArgs)
	if seen(a) != Target {
		return harness.Expect[Event]{Silent: decoyCheck(a)}
	}
	return harness.Expect[Event]{
		Events: []harness.Want[Event]{{Check: checkReported,
			Event: Event{Pid: uint32(c.Proc.Pid), Comm: c.Proc.Comm, Path: Target}}},
		Kill: true,
	}
}

// decoyCheck: a name that resolves to /etc/passwd is a case of the
// relative-name rule; any other name is a near miss.
func decoyCheck(a OpenArgs) string {
	if a.Dir == "/etc" || a.Cwd != "" && !strings.HasPrefix(a.Path, "/") || sameFile(a.Path) {
		return checkRelative
	}
	return checkExact
}

func sameFile(p string) bool {
	var a, b unix.Stat_t
	if unix.Stat(p, &a) != nil || unix.Stat(Target, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

var oracle = &harness.Oracle[Event]{
	Rule: Rule,
	About: func(c *harness.CallResult, e Event) bool {
		return e.Path == seen(c.Args.(OpenArgs))
	},
	Pid:        func(e Event) uint32 { return e.Pid },
	Describe:   describe,
	Hint:       hint,
	KillCheck:  checkKill,
	LiveCheck:  checkControl,
	StrayCheck: checkExact,
}

var flagNames = []struct {
	v    int
	name string
}{
	{unix.O_WRONLY, "O_WRONLY"}, {unix.O_RDWR, "O_RDWR"}, {unix.O_CREAT, "O_CREAT"}, {unix.O_APPEND, "O_APPEND"},
	{unix.O_NONBLOCK, "O_NONBLOCK"}, {unix.O_DIRECTORY, "O_DIRECTORY"}, {unix.O_NOFOLLOW, "O_NOFOLLOW"},
	{unix.O_CLOEXEC, "O_CLOEXEC"}, {unix.O_PATH, "O_PATH"}, {unix.O_NOATIME, "O_NOATIME"},
	{unix.O_EXCL, "O_EXCL"}, {unix.O_TRUNC, "O_TRUNC"},
}

func flagString(f int) string {
	var parts []string
	if f&(unix.O_WRONLY|unix.O_RDWR|unix.O_PATH) == 0 {
		parts = append(parts, "O_RDONLY")
	}
	for _, n := range flagNames {
		if f&n.v == n.v {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, "|")
}

func describe(c *harness.CallResult) string {
	a := c.Args.(OpenArgs)
	dfd := "AT_FDCWD"
	switch {
	case a.BadDfd != 0:
		dfd = fmt.Sprintf("%d (not an open descriptor)", a.BadDfd)
	case a.Dir != "":
		dfd = "<fd of " + a.Dir + ">"
	}
	name := fmt.Sprintf("%q", a.Path)
	if len(a.Path) > 40 {
		name = fmt.Sprintf("%q... (%d bytes)", a.Path[:40], len(a.Path))
	}
	if a.Tail != "" {
		name = fmt.Sprintf("%q (then %q after the NUL)", a.Path, a.Tail)
	}
	if a.PageEnd {
		name = fmt.Sprintf("%q (ending a page; the next page is not mapped)", a.Path)
	}
	mode := ""
	if a.Flags&unix.O_CREAT != 0 {
		mode = fmt.Sprintf(", 0%o", a.Mode)
	}
	s := fmt.Sprintf("openat(%s, %s, %s%s)", dfd, name, flagString(a.Flags), mode)
	if a.Cwd != "" {
		s += " in " + a.Cwd
	}
	return s
}

func hint(f *harness.Failure[Event]) string {
	switch f.Check {
	case checkReported:
		switch f.Kind {
		case harness.Missing:
			if f.Every {
				return "no event reached the ring buffer: when the name matches, reserve a struct event (bpf_ringbuf_reserve), fill it and bpf_ringbuf_submit it"
			}
			if f.Proc != nil && f.Proc.Reused {
				return harness.ReusedHint
			}
			return "every openat of /etc/passwd must give an event: look for conditions besides the name (flags, dfd, the process's name, a count) that make your program skip one"
		case harness.Extra:
			return "one event per open: submit one record per matching call, and nothing more"
		case harness.Mismatch:
			switch {
			case f.Got.Path == "":
				return "the path is empty: copy it from user memory with bpf_probe_read_user_str(buf, size, (const char *)ctx->args[1])"
			case f.Got.Pid != f.Want.Pid:
				return harness.PidHint
			case f.Got.Comm != f.Want.Comm:
				return harness.CommHint
			case f.Got.Path != f.Want.Path:
				return "the path is not the file name the process passed: copy the string itself, not the pointer"
			}
		}
	case checkExact:
		if f.Kind == harness.Stray {
			return "report only opens of /etc/passwd: a new process opens many files as it starts"
		}
		return "compare the whole name, its terminating NUL included: a prefix or suffix match also catches /etc/passwdX or /tmp/etc/passwd, and a buffer as short as the target cuts longer names to it"
	case checkRelative:
		return "see README.md, 'Relative names': compare the name string as passed; do not resolve it"
	case checkKill:
		return "part 2: call bpf_send_signal(9) (SIGKILL) when the name matches, for every such call"
	case checkControl:
		return "kill only openers of /etc/passwd: send the signal after the name matched, never to other processes"
	}
	return ""
}

// Argument variants of the target call: every one appears in each run.
// The filename stays /etc/passwd: dfd is ignored for an absolute name.
var targetVariants = []struct {
	args   OpenArgs
	weight int
}{
	{OpenArgs{Flags: unix.O_RDONLY}, 0},
	{OpenArgs{Flags: unix.O_RDONLY | unix.O_CLOEXEC}, 0},
	{OpenArgs{Flags: unix.O_RDWR}, 1},
	{OpenArgs{Flags: unix.O_WRONLY | unix.O_APPEND}, 1},
	{OpenArgs{Flags: unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOFOLLOW}, 1},
	{OpenArgs{Flags: unix.O_PATH}, 1},
	{OpenArgs{Flags: unix.O_RDONLY | unix.O_DIRECTORY}, 1}, // fails: ENOTDIR
	{OpenArgs{Flags: unix.O_RDONLY | unix.O_CREAT}, 1},
	{OpenArgs{Dir: "/etc", Flags: unix.O_RDONLY}, 1},
	{OpenArgs{Dir: "/tmp", Flags: unix.O_RDONLY | unix.O_CLOEXEC}, 1},
	{OpenArgs{BadDfd: badDfd, Flags: unix.O_RDONLY}, 1},
	{OpenArgs{BadDfd: negativeDfd, Flags: unix.O_RDONLY}, 1},
	{OpenArgs{Tail: "-and-more", Flags: unix.O_RDONLY}, 1},
	// A name that ends a page: a program that copies more bytes than the
	// string has faults, and sees nothing.
	{OpenArgs{PageEnd: true, Flags: unix.O_RDONLY}, 1},
	// Flags that make the call fail before it opens (or truncates)
	// anything: the file exists (O_EXCL), it is no directory.
	{OpenArgs{Flags: unix.O_RDONLY | unix.O_CREAT | unix.O_EXCL}, 1},
	{OpenArgs{Flags: unix.O_RDWR | unix.O_TRUNC | unix.O_DIRECTORY}, 1},
	{OpenArgs{Cwd: "/usr", Flags: unix.O_RDONLY}, 1},
}

// Names that are not /etc/passwd but come close to it.
func nearMisses(r *rand.Rand, long string) []string {
	names := []string{
		"/etc/hosts", "/etc/passwd.bak", "/etc/passwdX", "/etc/passwd/", "/etc/passwd-", "/etc/passw",
		"/etc/shadow", "/tmp/etc/passwd", "/ETC/PASSWD", "/etc/passwd ", "/etc/group", "/etc/pass",
		"/etc/passwd" + long,
		// More names a suffix match catches: on 7.x the kernel skips some
		// runs of a tracepoint program (recursion misses), and a mistake
		// must show in more than one or two calls.
		"/var/tmp/etc/passwd", "/opt/etc/passwd",
		// Names of the target's length: in another directory, and one
		// byte off, at the last byte, the first, the slash after /etc
		// (a program that compares "/etc" and "passwd" apart), and
		// anywhere (a program that compares fewer bytes than the name
		// has, or only its end).
		"/tmp/passwd", "/var/passwd",
		harness.OneOff(r, Target, len(Target)-1), harness.OneOff(r, Target, len(Target)-1), harness.OneOff(r, Target, 0),
		harness.OneOff(r, Target, len("/etc")), harness.OneOff(r, Target, r.IntN(len(Target))),
		// Its own bytes in another order: a program that compares sums
		// or counts of bytes takes it for the target.
		swapped(r),
	}
	return names
}

// readers are names of programs that read /etc/passwd in their work.
var readers = []string{"passwd", "getent", "id", "nscd", "sssd", "useradd", "su", "chsh", "pwck", "vipw"}

// swapped is the target with two bytes that differ swapped.
func swapped(r *rand.Rand) string {
	b := []byte(Target)
	for {
		i, j := r.IntN(len(b)), r.IntN(len(b))
		if b[i] != b[j] {
			b[i], b[j] = b[j], b[i]
			return string(b)
		}
	}
}

// maxReborn is how many processes run again under the id of an ended
// opener of /etc/passwd.
const maxReborn = 4

// opensTarget tells whether a process opens /etc/passwd by that name.
func opensTarget(p *harness.Process) bool {
	for _, c := range p.Calls {
		if a, ok := c.Args.(OpenArgs); ok && seen(a) == Target {
			return true
		}
	}
	return false
}

// Other names of /etc/passwd itself.
func otherNames(link string) []OpenArgs {
	return []OpenArgs{
		{Dir: "/etc", Path: "passwd"},
		{Cwd: "/etc", Path: "passwd"},
		{Cwd: "/etc", Path: "./passwd"},
		{Cwd: "/tmp", Path: "../etc/passwd"},
		{Cwd: "/", Path: "etc/passwd"},
		{Path: "/etc//passwd"},
		{Path: "//etc/passwd"},
		{Path: "/etc/./passwd"},
		{Path: "/etc/../etc/passwd"},
		{Path: "/proc/self/root/etc/passwd"},
		{Path: link},
	}
}

// scenario builds the run's processes from r:
//   - one process per target variant and a few more, each opening
//     /etc/passwd once (the call kills it), from the main thread or another
//     one, with a random number of threads;
//   - processes that open near-miss names, and processes that open
//     /etc/passwd under other names, several calls each from several
//     threads, repeated, in random order;
//
// all named at random (ordinary program names among them, some twice), and
// started a few at a time so they run together.
func scenario(r *rand.Rand, link string) *harness.Scenario {
	flags := []int{unix.O_RDONLY, unix.O_RDONLY | unix.O_CLOEXEC, unix.O_RDWR, unix.O_PATH, unix.O_RDONLY | unix.O_NONBLOCK}
	var procs []*harness.Process

	// Positive processes: each variant once, then random ones.
	nPos := len(targetVariants) + 2 + r.IntN(4)
	for i := 0; i < nPos; i++ {
		v := targetVariants[i%len(targetVariants)]
		if i >= len(targetVariants) {
			v = targetVariants[r.IntN(len(targetVariants))]
		}
		a := v.args
		a.Path, a.Read = Target, true
		if a.Flags&unix.O_CREAT != 0 {
			a.Mode = uint32(r.IntN(0o1000))
		}
		p := &harness.Process{Threads: r.IntN(3)}
		thread := 0
		if i%2 == 1 { // half of them call from another thread
			p.Threads = max(p.Threads, 1)
			thread = 1 + r.IntN(p.Threads)
		}
		p.Calls = []harness.Call{{Op: opOpenat, Args: a, Thread: thread, Weight: v.weight}}
		procs = append(procs, p)
	}

	// Decoy processes, one kind of decoy each, every decoy at least once.
	deal := func(cases []OpenArgs, weight int) {
		r.Shuffle(len(cases), func(i, j int) { cases[i], cases[j] = cases[j], cases[i] })
		n := 2 + r.IntN(2)
		for k := 0; k < n; k++ {
			p := &harness.Process{Threads: 1 + r.IntN(2)}
			for i := k; i < len(cases); i += n {
				for rep := 1 + r.IntN(2); rep > 0; rep-- {
					a := cases[i]
					a.Flags = flags[r.IntN(len(flags))]
					p.Calls = append(p.Calls, harness.Call{Op: opOpenat, Args: a, Thread: r.IntN(p.Threads + 1), Weight: weight})
				}
			}
			r.Shuffle(len(p.Calls), func(i, j int) { p.Calls[i], p.Calls[j] = p.Calls[j], p.Calls[i] })
			procs = append(procs, p)
		}
	}
	var near []OpenArgs
	for _, n := range nearMisses(r, strings.Repeat("x", 300)) {
		near = append(near, OpenArgs{Path: n})
	}
	deal(near, 0)
	deal(otherNames(link), 0)

	// Names: the openers of /etc/passwd share some (so a program that
	// reports each name once fails), and so do the others.
	for i, c := range harness.RandomComms(r, nPos) {
		procs[i].Comm = c
	}
	// One of them is named like a program that reads /etc/passwd for a
	// living (the rule has no exceptions): one whose name is neither
	// shared nor of 15 bytes, which RandomComms puts there on purpose.
	count := map[string]int{}
	for _, p := range procs[:nPos] {
		count[p.Comm]++
	}
	for _, i := range r.Perm(nPos) {
		if c := procs[i].Comm; count[c] == 1 && len(c) < 15 {
			procs[i].Comm = readers[r.IntN(len(readers))]
			break
		}
	}
	for i, c := range harness.RandomComms(r, len(procs)-nPos) {
		procs[nPos+i].Comm = c
	}
	r.Shuffle(len(procs), func(i, j int) { procs[i], procs[j] = procs[j], procs[i] })
	return &harness.Scenario{Procs: procs, Together: 4}
}

func run(ctx context.Context, g *harness.G) {
	m, ok := harness.RingEvents[rawEvent](g, "events", "event", "lab1.h")
	if !ok {
		return
	}
	// Everything that writes files happens before the program is attached.
	symlink := filepath.Join(g.Dir, fmt.Sprintf("pw%06d", g.Rand.IntN(1000000)))
	if err := os.Symlink(Target, symlink); err != nil {
		g.Fail("grader", "making the scenario's symlink: "+err.Error(), "", "")
		return
	}
	sc := scenario(g.Rand, symlink)
	launcher, err := g.Launcher()
	if err == nil {
		err = launcher.Prepare(sc)
	}
	if err != nil {
		g.Fail("grader", "preparing the scenario: "+err.Error(), "", "")
		return
	}

	prog := g.Loaded.Prog[section]
	// Processes that open near misses only.
	var quiet []*harness.Process
	for _, p := range sc.Procs {
		if !slices.ContainsFunc(p.Calls, func(c harness.Call) bool { return decoyCheck(c.Args.(OpenArgs)) != checkExact }) {
			quiet = append(quiet, p)
		}
	}
	reborn := 0
	out, err := harness.RunScene(ctx, &harness.Scene[Event]{
		Scenario: sc, Oracle: oracle, Events: m, Decode: decode,
		Progs: []*ebpf.Program{prog}, Replayable: true,
		Checks: g.Lab.CheckNames()[3:],
		Attach: harness.AttachTracepoint("syscalls", "sys_enter_openat", prog),
		// Under the ids of a few openers of /etc/passwd, once they are
		// gone: openers again (a program that remembers ids, to report
		// each once, misses them, as it would a reused id on a real
		// node), and processes that open other names only (one that
		// punishes an id for ever kills them).
		Reborn: func(p *harness.ProcResult) *harness.Process {
			if reborn == maxReborn || !opensTarget(p.Process) {
				return nil
			}
			reborn++
			q := *p.Process
			if reborn%2 == 0 && len(quiet) > 0 {
				q = *quiet[g.Rand.IntN(len(quiet))]
			}
			return &q
		},
	}, launcher)
	if harness.SceneFailed(g, err, nil) {
		return
	}
	g.Pass("attach", "attached to tracepoint syscalls/sys_enter_openat")
	verdicts := out.Remarks(g, "lab1.h")
	harness.Record(g, oracle, verdicts, map[string]string{
		checkReported: "each open of /etc/passwd gave one event with the process id, comm and path",
		checkExact:    "no event for other names",
		checkRelative: "no event for other names of the same file",
		checkKill:     "each opener of /etc/passwd died by SIGKILL in the call",
		checkControl:  "every other process ran to its end",
	})
}
