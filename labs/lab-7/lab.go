// Package lab7 grades lab 7: which pod did it. The student's BPF program
// reports each open of /etc/passwd with the opener's cgroup id (lab 1's
// tracepoint, one field more), and the student's Go program (enrich/)
// turns a cgroup id into the pod, container and QoS class, as Tetragon and
// Falco enrich their events.
//
// In the guest the grader lays out cgroups as a Kubernetes node's kubelet
// does, with both cgroup drivers ([kube.Node]), runs the student's Go
// program and checks its answers as pods come and go ([kube.Exercise]),
// then runs processes in the pods' containers and elsewhere and checks
// every event: its cgroup id, and the workload the Go program gives for
// it.
package lab7

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/internal/fileutil"
	"github.com/bpflab/bpflab/labs/lab-7/kube"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

const section = "tracepoint/syscalls/sys_enter_openat"

// The lab's own checks, besides the Go program's ([kube.Checks]).
const (
	checkReported = "passwd-reported"
	checkSilent   = "others-silent"
	checkUnharmed = "processes-unharmed"
	checkEnriched = "events-enriched"
)

// cgroupRoot is where the guest mounts cgroup v2.
const cgroupRoot = "/sys/fs/cgroup"

func init() { harness.Register(Lab) }

// Lab is lab 7.
var Lab = &harness.Lab{
	ID:        "lab-7",
	Title:     "Which pod did it: the cgroup id in each event, the pod in user space",
	Hook:      "tracepoint `syscalls/sys_enter_openat` + a Go program",
	Teaches:   "which pod did it: cgroup ids in events, a node's cgroup layouts (systemd and cgroupfs drivers), a user-space cache that follows pods as they come and go",
	Level:     "advanced",
	MinKernel: "5.10",
	Features: []harness.Feature{
		harness.FeatureBTF, harness.FeatureTracepoint, harness.FeatureRingBuf, harness.FeatureCgroup2,
		harness.FeatureHelper(ebpf.TracePoint, asm.FnProbeReadUserStr, "5.5"), harness.FeatureHelper(ebpf.TracePoint, asm.FnGetCurrentCgroupId, "4.18"),
	},
	Needs:        []string{"a Go toolchain on the host (go build)"},
	Dir:          "labs/lab-7",
	Source:       "who.bpf.c",
	Solution:     "solution/who.bpf.c",
	Prog:         "enrich",
	ProgSolution: "solution/enrich",
	Wants: []harness.ProgramWant{{
		Sections: []string{section, "tp/syscalls/sys_enter_openat"},
	}},
	Checks:  checks(),
	Run:     run,
	Trigger: "trigger.c",
}

func checks() []harness.CheckDef {
	out := harness.EventChecks("lab7.h")
	for _, c := range kube.Checks {
		out = append(out, harness.CheckDef{Name: c.Name, What: c.What})
	}
	return append(out, []harness.CheckDef{
		{Name: "attach", What: "the program attaches to syscalls/sys_enter_openat"},
		{Name: checkReported, What: "every openat of /etc/passwd, in any pod, container or none, gives one event with the process id, comm and the opener's cgroup id"},
		{Name: checkSilent, What: "opening other files gives no event"},
		{Name: checkUnharmed, What: "every process makes all its calls and exits: the program only reports (no signal left over from lab 1)"},
		{Name: checkEnriched, What: "every event's cgroup id gives, through the Go program, the opener's pod, container and QoS class"},
	}...)
}

// Target is the file the lab watches.
const Target = "/etc/passwd"

// rawEvent is struct event of lab7.h, field for field.
type rawEvent struct {
	CgroupID uint64 `c:"cgroup_id"`
	Pid      uint32
	Comm     [16]byte
	_        [4]byte
}

// Event is struct event of lab7.h, decoded.
type Event struct {
	CgroupID uint64
	Pid      uint32
	Comm     string
}

func decode(b []byte) (Event, error) {
	r, err := harness.Decode[rawEvent](b)
	if err != nil {
		return Event{}, err
	}
	return Event{CgroupID: r.CgroupID, Pid: r.Pid, Comm: harness.CString(r.Comm[:])}, nil
}

// where is the cgroup each process of the scenario runs in.
type where map[*harness.Process]*kube.Cgroup

// oracle is the lab's rule, for the cgroups of a run: an openat of
// /etc/passwd gives one event {cgroup id of the opener, pid, comm};
// anything else, none.
func oracle(cg where) *harness.Oracle[Event] {
	return &harness.Oracle[Event]{
		Rule: func(c *harness.CallResult) harness.Expect[Event] {
			if c.Args.(OpenArgs).Path != Target {
				return harness.Expect[Event]{Silent: checkSilent}
			}
			return harness.Expect[Event]{Events: []harness.Want[Event]{{Check: checkReported,
				Event: Event{CgroupID: cg[c.Proc.Process].ID, Pid: uint32(c.Proc.Pid), Comm: c.Proc.Comm}}}}
		},
		// Events do not say which file: one nobody expected is a stray.
		About: func(*harness.CallResult, Event) bool { return false },
		Pid:   func(e Event) uint32 { return e.Pid },
		Describe: func(c *harness.CallResult) string {
			a := c.Args.(OpenArgs)
			dfd := "AT_FDCWD"
			if a.Dir != "" {
				dfd = "<fd of " + a.Dir + ">"
			}
			return fmt.Sprintf("openat(%s, %q, %#o) in cgroup %s", dfd, a.Path, a.Flags, kube.Short(cg[c.Proc.Process].Path))
		},
		Hint:       hint,
		StrayCheck: checkSilent,
		LiveCheck:  checkUnharmed,
	}
}

func hint(f *harness.Failure[Event]) string {
	switch f.Check {
	case checkReported:
		switch f.Kind {
		case harness.Missing:
			if f.Every {
				return "no event reached the ring buffer: when the name is /etc/passwd, reserve a struct event, fill it and submit it"
			}
			return "every openat of /etc/passwd must give an event, whichever cgroup the process is in"
		case harness.Extra:
			return "one event per open"
		case harness.Mismatch:
			switch {
			case f.Got.CgroupID != f.Want.CgroupID && f.Proc != nil && f.Proc.Reused:
				return harness.ReusedHint
			case f.Got.CgroupID != f.Want.CgroupID:
				return "the cgroup id is not the opener's: bpf_get_current_cgroup_id() gives the id of the current task's cgroup v2 (a controller's cgroup, as cgroup v1 tools read it, can be a cgroup above it)"
			case f.Got.Pid != f.Want.Pid:
				return harness.PidHint
			case f.Got.Comm != f.Want.Comm:
				return harness.CommHint
			}
		}
	case checkSilent:
		return "report only opens of /etc/passwd: compare the whole name, as in lab 1"
	case checkUnharmed:
		return "this lab only reports: remove bpf_send_signal (lab 1's reaction)"
	}
	return ""
}

func run(ctx context.Context, g *harness.G) {
	if os.Getenv("BPFLAB_GUEST") != "1" {
		g.SkipRest("this lab makes a Kubernetes node's cgroups under " + cgroupRoot + ": grade it in a VM (without --kernel host)")
		return
	}
	m, mapOK := harness.RingEvents[rawEvent](g, "events", "event", "lab7.h")
	if g.Prog == "" {
		g.Fail("grader", "no Go program was built for this submission", "grade with bpflab grade lab-7, which builds enrich/", "")
		return
	}
	n := kube.NewNode(cgroupRoot, g.Rand)
	defer n.Close()
	var client *kube.Client
	defer func() {
		if client != nil {
			client.Close()
		}
	}()
	res, err := kube.Exercise(n, func() (kube.API, error) {
		// The student's program runs as nobody, from a copy it may
		// execute: it needs to read the cgroup tree, nothing more.
		prog, err := nobodyCopy(g.Dir, g.Prog)
		if err != nil {
			return nil, err
		}
		c, err := kube.Start(prog, cgroupRoot, kube.Nobody)
		if err != nil {
			return nil, err
		}
		client = c
		return c, nil
	})
	if err != nil {
		g.Fail("grader", "laying out the node's cgroups: "+err.Error(), "", "")
		return
	}
	stderr := ""
	if client != nil {
		stderr = client.Stderr()
	}
	recordGo(g, res.Results, stderr)
	if !mapOK {
		return
	}
	self, err := ownCgroup(n)
	if err != nil {
		g.Fail("grader", "finding the grader's cgroup: "+err.Error(), "", "")
		return
	}
	// And the root cgroup, where the host's own processes may be.
	root, err := n.Existing("/")
	if err != nil {
		g.Fail("grader", "finding the root cgroup: "+err.Error(), "", "")
		return
	}
	cg := where{}
	cgs := append(res.Live, self, root)
	sc := scenario(g.Rand, cgs, self, cg)
	launcher, err := g.Launcher()
	if err == nil {
		err = launcher.Prepare(sc)
	}
	if err != nil {
		g.Fail("grader", "preparing the scenario: "+err.Error(), "", "")
		return
	}
	o := oracle(cg)
	prog := g.Loaded.Prog[section]
	out, err := harness.RunScene(ctx, &harness.Scene[Event]{
		Scenario: sc, Oracle: o, Events: m, Decode: decode,
		Progs: []*ebpf.Program{prog}, Replayable: true,
		Checks: []string{checkReported, checkSilent, checkUnharmed},
		Attach: harness.AttachTracepoint("syscalls", "sys_enter_openat", prog),
		Reborn: reborn(g.Rand, cgs, self, cg),
	}, launcher)
	if harness.SceneFailed(g, err, nil) {
		return
	}
	g.Pass("attach", "attached to tracepoint syscalls/sys_enter_openat")
	harness.Record(g, o, out.Remarks(g, "lab7.h"), map[string]string{
		checkReported: "each open of /etc/passwd gave one event with the process id, comm and the opener's cgroup id",
		checkSilent:   "no event for other files",
		checkUnharmed: "every process made all its calls and exited",
	})
	enriched(g, client, out, cg)
}

// recordGo records the Go program's checks.
func recordGo(g *harness.G, results []kube.Result, stderr string) {
	for _, r := range results {
		if len(r.Fails) == 0 {
			g.Pass(r.Check, fmt.Sprintf("%d case(s) answered right", r.Cases))
			continue
		}
		reason := r.Fails[0]
		if len(r.Fails) > 1 {
			reason += fmt.Sprintf(" [%d of %d cases wrong]", len(r.Fails), r.Cases)
		}
		g.Fail(r.Check, reason, kube.Hint(r.Check), details(r.Fails[1:], stderr))
	}
}

func details(more []string, stderr string) string {
	var b strings.Builder
	if len(more) > 0 {
		b.WriteString("other cases:\n")
		for i, f := range more {
			if i == 8 {
				fmt.Fprintf(&b, "  ... and %d more\n", len(more)-i)
				break
			}
			fmt.Fprintf(&b, "  %s\n", f)
		}
	}
	if s := strings.TrimSpace(stderr); s != "" {
		lines := strings.Split(s, "\n")
		if len(lines) > 10 {
			lines = lines[len(lines)-10:]
		}
		b.WriteString("your program's standard error (its end):\n")
		for _, l := range lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// ownCgroup is the grader's own cgroup, where processes of no pod run.
func ownCgroup(n *kube.Node) (*kube.Cgroup, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return n.Existing(p)
		}
	}
	return nil, errors.New("no cgroup v2 line in /proc/self/cgroup")
}

// openFlags are the flags opens are made with: a program that tests
// them (lab 1's mistake) misses opens.
var openFlags = []int{unix.O_RDONLY, unix.O_RDONLY | unix.O_CLOEXEC, unix.O_RDWR, unix.O_WRONLY | unix.O_APPEND,
	unix.O_PATH, unix.O_RDONLY | unix.O_NONBLOCK}

// openArgs opens path with random flags, through AT_FDCWD or a
// descriptor of /etc (which an absolute name ignores).
func openArgs(r *rand.Rand, path string) OpenArgs {
	a := OpenArgs{Path: path, Flags: openFlags[r.IntN(len(openFlags))]}
	if r.IntN(3) == 0 {
		a.Dir = "/etc"
	}
	return a
}

// decoys are names that are not /etc/passwd.
var decoys = []string{"/etc/hosts", "/etc/passwd-", "/etc/group", "/etc/passwdX", "/tmp/etc/passwd", "/etc/shadow",
	"/tmp/passwd", "/var/passwd"}

// fixedDecoys is how many kinds of decoy every run has, each in three
// processes: an event does not say which file was opened, so a decoy's
// event can stand in for a target's that the kernel skipped (7.x), and
// one process is not enough to show a mistake.
const fixedDecoys = 6

// prefixes are beginnings of the target, the empty name among them.
var prefixes = []string{"", "/", "/etc", "/etc/", "/etc/pass"}

// decoy is the other file the i-th process opens: for the first ones, in
// every run, each kind three times, /etc/passwd by a relative name
// (through a descriptor of /etc: the name passed is "passwd"), in another
// directory under a name of its length, one byte off at its end and at
// its start, one of its beginnings, and in capitals; then any decoy, or a
// name one byte off anywhere.
func decoy(r *rand.Rand, i int) OpenArgs {
	flags := openFlags[r.IntN(len(openFlags))]
	kind := -1 // any decoy
	if i < 3*fixedDecoys {
		kind = i % fixedDecoys
	}
	switch kind {
	case 0:
		return OpenArgs{Dir: "/etc", Path: "passwd", Flags: flags}
	case 1:
		return OpenArgs{Path: "/tmp/passwd", Flags: flags}
	case 2:
		return OpenArgs{Path: harness.OneOff(r, Target, len(Target)-1), Flags: flags}
	case 3:
		// One byte off at the start: a compare that skips the slash.
		return OpenArgs{Path: harness.OneOff(r, Target, 0), Flags: flags}
	case 4:
		// The target's own beginnings: a compare that stops at the end
		// of the shorter string.
		return openArgs(r, prefixes[r.IntN(len(prefixes))])
	case 5:
		return openArgs(r, "/ETC/PASSWD")
	}
	if r.IntN(4) == 0 {
		return OpenArgs{Path: harness.OneOff(r, Target, r.IntN(len(Target))), Flags: flags}
	}
	return openArgs(r, decoys[r.IntN(len(decoys))])
}

// scenario runs processes in every cgroup of cgs, one in each and two in
// some, with up to two threads besides the main one, each opening
// /etc/passwd two or three times and another file once, from random
// threads, with random flags and dfd; some processes share a name. cg records where each runs
// (self: no cgroup of its own to start in).
func scenario(r *rand.Rand, cgs []*kube.Cgroup, self *kube.Cgroup, cg where) *harness.Scenario {
	var procs []*harness.Process
	for _, c := range cgs {
		k := 1
		if r.IntN(4) == 0 {
			k = 2
		}
		for ; k > 0; k-- {
			p := &harness.Process{Threads: r.IntN(3)}
			if c != self {
				p.Cgroup = c.Dir
			}
			for i := 2 + r.IntN(2); i > 0; i-- {
				p.Calls = append(p.Calls, harness.Call{Op: opOpen, Args: openArgs(r, Target), Thread: r.IntN(p.Threads + 1)})
			}
			p.Calls = append(p.Calls, harness.Call{Op: opOpen, Args: decoy(r, len(procs)), Thread: r.IntN(p.Threads + 1)})
			r.Shuffle(len(p.Calls), func(i, j int) { p.Calls[i], p.Calls[j] = p.Calls[j], p.Calls[i] })
			cg[p] = c
			procs = append(procs, p)
		}
	}
	for i, c := range harness.RandomComms(r, len(procs)) {
		procs[i].Comm = c
	}
	r.Shuffle(len(procs), func(i, j int) { procs[i], procs[j] = procs[j], procs[i] })
	return &harness.Scenario{Procs: procs, Together: 4}
}

// reborn picks the processes that run again under the id of an ended one,
// each in another cgroup than the first: a program that keeps a process's
// cgroup id by its process id reports the first one's.
func reborn(r *rand.Rand, cgs []*kube.Cgroup, self *kube.Cgroup, cg where) func(*harness.ProcResult) *harness.Process {
	n := 0
	return func(p *harness.ProcResult) *harness.Process {
		if n == maxReborn {
			return nil
		}
		n++
		q := *p.Process
		c := cgs[r.IntN(len(cgs))]
		for c == cg[p.Process] {
			c = cgs[r.IntN(len(cgs))]
		}
		q.Cgroup = ""
		if c != self {
			q.Cgroup = c.Dir
		}
		cg[&q] = c
		return &q
	}
}

// maxReborn is how many processes run again under an ended one's id.
const maxReborn = 3

// enriched asks the Go program about every event of the scenario's
// processes and compares its answer with the opener's workload.
func enriched(g *harness.G, client *kube.Client, out *harness.Outcome[Event], cg where) {
	// opener is the process an event is from: processes that took an
	// ended one's id share it, and then it is the one in the cgroup the
	// event names, if there is one.
	opener := func(e Event) *harness.ProcResult {
		var first *harness.ProcResult
		for _, q := range out.Procs {
			if q.Pid != int(e.Pid) {
				continue
			}
			if cg[q.Process].ID == e.CgroupID {
				return q
			}
			if first == nil {
				first = q
			}
		}
		return first
	}
	var fails []string
	cases := 0
	asked := map[[2]uint64]bool{}
	for _, e := range out.Events {
		p := opener(e)
		if p == nil || asked[[2]uint64{uint64(e.Pid), e.CgroupID}] {
			continue
		}
		asked[[2]uint64{uint64(e.Pid), e.CgroupID}] = true
		cases++
		c := cg[p.Process]
		got, err := client.Lookup(e.CgroupID)
		switch {
		case err != nil:
			fails = append(fails, fmt.Sprintf("the event of process %d (%q, in %s) has cgroup id %d; your Go program answered an error: %v; want %s", e.Pid, e.Comm, kube.Short(c.Path), e.CgroupID, err, c.Want))
		case got != c.Want:
			fails = append(fails, fmt.Sprintf("the event of process %d (%q, in %s) has cgroup id %d, which your Go program says is %s; want %s", e.Pid, e.Comm, kube.Short(c.Path), e.CgroupID, got, c.Want))
		}
	}
	switch {
	case cases == 0:
		g.Fail(checkEnriched, "no event of the scenario's processes reached the ring buffer: there is nothing to enrich", "see "+checkReported, "")
	case len(fails) == 0:
		g.Pass(checkEnriched, fmt.Sprintf("%d event(s): each one's cgroup id gave the opener's pod, container and QoS class", cases))
	default:
		reason := fails[0]
		if len(fails) > 1 {
			reason += fmt.Sprintf(" [%d of %d events wrong]", len(fails), cases)
		}
		g.Fail(checkEnriched, reason, "an event is only as right as both halves: see the failures above, of the BPF program (its cgroup id) or of the Go program (its answers)", details(fails[1:], client.Stderr()))
	}
}

// nobodyCopy copies the program prog into a directory of dir that every
// user may enter, and returns the copy's path.
func nobodyCopy(dir, prog string) (string, error) {
	d := filepath.Join(dir, "enrich")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	for _, p := range []string{dir, d} {
		if err := os.Chmod(p, 0o755); err != nil {
			return "", err
		}
	}
	dst := filepath.Join(d, "enrich")
	if err := fileutil.Copy(prog, dst, 0o755); err != nil {
		return "", fmt.Errorf("copying your program: %w", err)
	}
	return dst, nil
}
