package harness

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf/btf"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestMain lets the test binary run as a trigger process, and as a
// grader's worker that misbehaves as $BPFLAB_TEST_WORKER says.
func TestMain(m *testing.M) {
	if IsTrigger() {
		TriggerMain()
	}
	if len(os.Args) > 1 && os.Args[1] == WorkerCommand {
		fakeWorker(os.Getenv("BPFLAB_TEST_WORKER"))
	}
	os.Exit(m.Run())
}

// fakeWorker reports a check, then dies, hangs or reports in full.
func fakeWorker(how string) {
	c := Check{Name: "compile", Status: Pass, Reason: "clang built the object"}
	writeLine(workerLine{Check: &c})
	switch how {
	case "kill":
		_ = unix.Kill(os.Getpid(), syscall.SIGKILL)
	case "hang":
		time.Sleep(time.Hour)
	case "panic":
		panic("worker bug")
	}
	writeLine(workerLine{Report: &Report{Lab: "lab-x", Source: "s.bpf.c", Checks: []Check{c}}})
	os.Exit(0)
}

func TestSupervise(t *testing.T) {
	lab := &Lab{ID: "lab-x"}
	old := submissionTimeout
	submissionTimeout = 2 * time.Second
	t.Cleanup(func() { submissionTimeout = old })
	for _, tc := range []struct {
		how, reason string
	}{
		{"ok", ""},
		{"kill", "killed by SIGKILL"},
		{"hang", "ran past 2s"},
		{"panic", "panic: worker bug"},
	} {
		t.Run(tc.how, func(t *testing.T) {
			t.Setenv("BPFLAB_TEST_WORKER", tc.how)
			start := time.Now()
			r := Supervise(context.Background(), lab, "s.bpf.c", "/nonexistent.o", "", "6.12", 7)
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
			if len(r.Checks) == 0 || r.Checks[0].Name != "compile" || r.Checks[0].Status != Pass {
				t.Fatalf("the check sent before the end is lost: %+v", r.Checks)
			}
			if tc.reason == "" {
				if !r.Passed() {
					t.Errorf("a worker that reported in full fails: %+v", r.Checks)
				}
				return
			}
			last := r.Checks[len(r.Checks)-1]
			if last.Name != "grader" || last.Status != Fail || !strings.Contains(last.Reason, tc.reason) {
				t.Errorf("last check %+v, want grader FAIL saying %q", last, tc.reason)
			}
			if r.Seed != 7 || r.Kernel != "6.12" || r.Source != "s.bpf.c" {
				t.Errorf("report header %+v", r)
			}
		})
	}
}

type noArgs struct{}

// whoami reports the calling thread: its id in Ret, its name in Note.
var opWhoami = RegisterOp("test.whoami", func(noArgs) (Result, error) {
	var name [16]byte
	if err := unix.Prctl(unix.PR_GET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0); err != nil {
		return Result{}, err
	}
	return Result{Ret: int64(unix.Gettid()), Note: CString(name[:])}, nil
})

var opSignal = RegisterOp("test.signal", func(sig int) (Result, error) {
	return Result{}, unix.Kill(os.Getpid(), syscall.Signal(sig))
})

var opFail = RegisterOp("test.errno", func(e int) (Result, error) {
	return Result{Errno: syscall.Errno(e)}, nil
})

// prepared is a launcher prepared for s.
func prepared(t *testing.T, s *Scenario) *Launcher {
	t.Helper()
	l, err := NewLauncher(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Prepare(s); err != nil {
		t.Fatal(err)
	}
	return l
}

func launch(t *testing.T, s *Scenario) []*ProcResult {
	t.Helper()
	res, err := prepared(t, s).Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestScenarioThreads: calls on thread 0 have tid == pid, calls on other
// threads have tids of their own, and every thread carries the process's
// name, for processes started together.
func TestScenarioThreads(t *testing.T) {
	calls := []Call{{Op: opWhoami}, {Op: opWhoami, Thread: 1}, {Op: opWhoami, Thread: 2}, {Op: opWhoami, Thread: 1}, {Op: opFail, Args: 2}}
	s := &Scenario{Together: 2, Procs: []*Process{
		{Comm: "cat", Threads: 2, Calls: calls},
		{Comm: "python3", Threads: 2, Calls: calls},
		{Comm: "cat", Threads: 2, Calls: calls},
	}}
	for _, p := range launch(t, s) {
		if !p.Ready || p.Signal != 0 || p.Code != 0 || p.Hung {
			t.Fatalf("process %s: %+v, stderr %q", p.Comm, p, p.Stderr)
		}
		tid := func(i int) int { return int(p.Calls[i].Result.Ret) }
		if tid(0) != p.Pid || p.Calls[0].Tid != p.Pid {
			t.Errorf("main-thread call ran on tid %d, want the pid %d", tid(0), p.Pid)
		}
		if tid(1) == p.Pid || tid(2) == p.Pid || tid(1) == tid(2) {
			t.Errorf("thread calls ran on tids %d, %d (pid %d): want two other threads", tid(1), tid(2), p.Pid)
		}
		if tid(3) != tid(1) {
			t.Errorf("two calls on thread 1 ran on %d and %d", tid(1), tid(3))
		}
		for i, c := range p.Calls[:4] {
			if c.State != Done || c.Result.Note != p.Comm || c.Tid != tid(i) {
				t.Errorf("call %d: %+v, want done on tid %d named %q", i, c, tid(i), p.Comm)
			}
		}
		if c := p.Calls[4]; c.Result.Errno != syscall.ENOENT {
			t.Errorf("errno call: %+v", c)
		}
	}
}

// TestScenarioDeaths: a process killed in a call has that call Died and
// the rest NotRun; a stopped process is killed as soon as it is seen
// stopped, long before the deadline, and reported as hung and stopped;
// the groups after it still run.
func TestScenarioDeaths(t *testing.T) {
	s := &Scenario{Together: 2, Deadline: 8 * time.Second, Procs: []*Process{
		{Comm: "killed", Calls: []Call{{Op: opWhoami}, {Op: opSignal, Args: int(syscall.SIGKILL)}, {Op: opWhoami}}},
		{Comm: "stopped", Threads: 1, Calls: []Call{{Op: opSignal, Args: int(syscall.SIGSTOP), Thread: 1}, {Op: opWhoami}}},
		{Comm: "later", Calls: []Call{{Op: opWhoami}}},
	}}
	start := time.Now()
	res := launch(t, s)
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("took %v: the stopped process waited for its group's deadline (8s)", d)
	}
	states := func(p *ProcResult) []CallState {
		var out []CallState
		for _, c := range p.Calls {
			out = append(out, c.State)
		}
		return out
	}
	if p := res[0]; p.Signal != syscall.SIGKILL || p.Hung || !cmp.Equal(states(p), []CallState{Done, Died, NotRun}) {
		t.Errorf("killed: signal %v hung %v states %v", p.Signal, p.Hung, states(p))
	}
	if p := res[1]; !p.Hung || !p.Stopped || !cmp.Equal(states(p), []CallState{Died, NotRun}) {
		t.Errorf("stopped: hung %v stopped %v states %v", p.Hung, p.Stopped, states(p))
	}
	if p := res[2]; !p.Ready || p.Done() != 1 {
		t.Errorf("the group after a hung one: %+v", p)
	}
}

// TestReusePid: a process that asks for the id of an ended one gets it,
// and the judge's words say so.
//
// It runs in a pid namespace of its own, where nothing else takes ids: on
// a busy host another process can take the id a test process asks for,
// and keep it.
func TestReusePid(t *testing.T) {
	if os.Getenv("BPFLAB_TEST_PIDNS") == "" {
		if err := unix.Access("/proc/sys/kernel/ns_last_pid", unix.W_OK); err != nil || os.Geteuid() != 0 {
			t.Skipf("needs root and a writable /proc/sys/kernel/ns_last_pid (CONFIG_CHECKPOINT_RESTORE): %v", err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestReusePid$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "BPFLAB_TEST_PIDNS=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Skipf("no pid namespace: %v", err)
		}
		if err != nil || !strings.Contains(string(out), "--- PASS: TestReusePid") {
			t.Fatalf("in a pid namespace: %v\n%s", err, out)
		}
		return
	}
	// The namespace's own /proc, so that ids in it mean its processes.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("proc", "/proc", "proc", 0, ""); err != nil {
		t.Fatal(err)
	}
	calls := []Call{{Op: opWhoami}, {Op: opWhoami, Thread: 1}}
	first := &Scenario{Together: 3}
	for _, c := range []string{"ls", "cat", "tar"} {
		first.Procs = append(first.Procs, &Process{Comm: c, Threads: 2, Calls: calls})
	}
	// One at a time: a Go trigger's runtime makes threads of its own
	// while it waits, which can take the id another process asks for.
	for _, p := range launch(t, first) {
		q := *p.Process
		q.ReusePid = p.Pid
		p := launch(t, &Scenario{Procs: []*Process{&q}})[0]
		if !p.Reused || p.Pid != p.ReusePid || p.Done() != len(calls) || p.Calls[0].Result.Ret != int64(p.Pid) {
			t.Errorf("%s: reused %v, pid %d, asked for %d, %d calls done, first by tid %d", p.Comm, p.Reused, p.Pid, p.ReusePid, p.Done(), p.Calls[0].Result.Ret)
		}
		if w := where(p.Calls[1]); !strings.Contains(w, "a new process with the id of one that ended") || !strings.Contains(w, "tid "+strconv.Itoa(p.Calls[1].Tid)) {
			t.Errorf("where: %s", w)
		}
	}
}

func TestRandomComms(t *testing.T) {
	r := SeedFrom(7)
	for n := 3; n < 30; n++ {
		cs := RandomComms(r, n)
		seen := map[string]int{}
		ordinary := 0
		for _, c := range cs {
			if len(c) == 0 || len(c) > 15 {
				t.Errorf("name %q", c)
			}
			seen[c]++
			for _, o := range ordinaryNames {
				if c == o {
					ordinary++
					break
				}
			}
		}
		if len(seen) == n {
			t.Errorf("%d names, none twice: %v", n, cs)
		}
		if ordinary < 2 {
			t.Errorf("fewer than two ordinary names: %v", cs)
		}
		if n >= 4 && !slices.ContainsFunc(cs, func(c string) bool { return len(c) == 15 }) {
			t.Errorf("no name of 15 bytes: %v", cs)
		}
	}
	if cmp.Equal(RandomComms(SeedFrom(1), 10), RandomComms(SeedFrom(2), 10)) {
		t.Error("two seeds, the same names")
	}
	if !cmp.Equal(RandomComms(SeedFrom(3), 10), RandomComms(SeedFrom(3), 10)) {
		t.Error("one seed, different names")
	}
}

type testEvent struct {
	Pid  uint32
	Name string
}

// A rule for Judge's tests: call "hit" must give {pid, "hit"} and kill;
// any other call must give nothing.
var testOracle = &Oracle[testEvent]{
	Rule: func(c *CallResult) Expect[testEvent] {
		if c.Args == "hit" {
			return Expect[testEvent]{Events: []Want[testEvent]{{"reported", testEvent{uint32(c.Proc.Pid), "hit"}}}, Kill: true}
		}
		if c.Args == "rep" { // reported, not killed
			return Expect[testEvent]{Events: []Want[testEvent]{{"reported", testEvent{uint32(c.Proc.Pid), "rep"}}}}
		}
		return Expect[testEvent]{Silent: "silent"}
	},
	About:     func(c *CallResult, e testEvent) bool { return c.Args == e.Name },
	Pid:       func(e testEvent) uint32 { return e.Pid },
	Describe:  func(c *CallResult) string { return c.Args.(string) + "()" },
	KillCheck: "kill", LiveCheck: "live", StrayCheck: "silent",
}

// proc makes a process that ran calls named by args on the given threads;
// done calls returned, the one after them died (when signal is set).
func proc(pid int, tids []int, sig syscall.Signal, done int, calls ...Call) *ProcResult {
	p := &ProcResult{Process: &Process{Comm: "cat", Threads: len(tids) - 1, Calls: calls}, Pid: pid, Tids: tids, Ready: true, Signal: sig}
	for i, c := range calls {
		cr := &CallResult{Call: c, Proc: p, Index: i, Tid: tids[c.Thread]}
		switch {
		case i < done:
			cr.State = Done
		case i == done && sig != 0:
			cr.State = Died
		}
		p.Calls = append(p.Calls, cr)
	}
	return p
}

func TestJudge(t *testing.T) {
	checks := []string{"reported", "silent", "kill", "live"}
	hit := func(thread int) Call { return Call{Args: "hit", Thread: thread} }
	miss := Call{Args: "miss"}
	for _, tc := range []struct {
		name   string
		procs  []*ProcResult
		events []testEvent
		want   map[string]string // failed check -> a piece of its smallest case's words
	}{
		{"right", []*ProcResult{proc(10, []int{10}, syscall.SIGKILL, 1, miss, hit(0)), proc(20, []int{20}, 0, 1, miss)},
			[]testEvent{{10, "hit"}, {99, "other process"}}, nil},
		{"thread id", []*ProcResult{proc(10, []int{10, 11}, syscall.SIGKILL, 0, hit(1))},
			[]testEvent{{11, "hit"}}, map[string]string{"reported": "the event says pid 11, which is the thread id; want 10"}},
		{"missing and not killed", []*ProcResult{proc(10, []int{10}, 0, 1, hit(0))},
			nil, map[string]string{"reported": "no event", "kill": "went on"}},
		{"twice", []*ProcResult{proc(10, []int{10}, syscall.SIGKILL, 0, hit(0))},
			[]testEvent{{10, "hit"}, {10, "hit"}}, map[string]string{"reported": "2 events; want 1"}},
		{"decoy reported and killed", []*ProcResult{proc(10, []int{10}, syscall.SIGKILL, 0, miss, miss)},
			[]testEvent{{10, "miss"}}, map[string]string{"silent": "miss() by process 10", "live": "killed by SIGKILL in this call"}},
		{"killed at start", []*ProcResult{{Process: &Process{Comm: "sh", Calls: []Call{hit(0)}}, Pid: 10, Signal: syscall.SIGKILL,
			Calls: []*CallResult{{Call: hit(0)}}}, proc(20, []int{20}, 0, 1, miss)},
			[]testEvent{{10, "startup"}}, map[string]string{"reported": "never ran", "kill": "never ran", "live": "as it started", "silent": "none of its calls explains"}},
		{"thread id, main-thread event first", []*ProcResult{proc(10, []int{10, 11}, 0, 2, Call{Args: "rep", Thread: 1}, Call{Args: "rep"})},
			[]testEvent{{11, "rep"}, {10, "rep"}}, map[string]string{"reported": "rep() from a second thread of process 10 (\"cat\", tid 11): the event says pid 11, which is the thread id"}},
		{"stray", []*ProcResult{proc(20, []int{20}, 0, 1, miss)},
			[]testEvent{{20, "/proc/self/mountinfo"}}, map[string]string{"silent": "none of its calls explains"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A process killed at start has its call results linked by hand.
			for _, p := range tc.procs {
				for i, c := range p.Calls {
					c.Proc, c.Index = p, i
				}
			}
			got := map[string]string{}
			for _, v := range Judge(testOracle, tc.procs, tc.events, checks) {
				if v.Cases == 0 && v.Check != "kill" && v.Check != "live" && v.Check != "silent" && v.Check != "reported" {
					t.Errorf("check %s judged nothing", v.Check)
				}
				if len(v.Failures) > 0 {
					got[v.Check] = v.Failures[0].Words
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("failed checks %v, want %v", got, tc.want)
			}
			for c, piece := range tc.want {
				if !strings.Contains(got[c], piece) {
					t.Errorf("check %s: %q, want it to say %q", c, got[c], piece)
				}
			}
		})
	}
}

func TestCheckLayout(t *testing.T) {
	u32 := &btf.Int{Name: "u32", Size: 4}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Char}
	mk := func(pathOff uint32, size uint32) *btf.Spec {
		st := &btf.Struct{Name: "event", Size: size, Members: []btf.Member{
			{Name: "pid", Type: u32, Offset: 0},
			{Name: "comm", Type: &btf.Array{Index: u32, Type: char, Nelems: 16}, Offset: 32},
			{Name: "path", Type: &btf.Array{Index: u32, Type: char, Nelems: 256}, Offset: btf.Bits(pathOff * 8)},
		}}
		b, err := btf.NewBuilder([]btf.Type{st}, nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := b.Marshal(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		spec, err := btf.LoadSpecFromReader(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		return spec
	}
	type ev struct {
		Pid  uint32
		Comm [16]byte
		Path [256]byte
	}
	if err := CheckLayout[ev](mk(20, 276), "event"); err != nil {
		t.Errorf("same layout: %v", err)
	}
	if err := CheckLayout[ev](mk(24, 280), "event"); err == nil {
		t.Error("a struct 4 bytes longer passes")
	}
	if err := CheckLayout[ev](mk(20, 276), "other"); err == nil {
		t.Error("a missing struct passes")
	}
}

// rendezvous counts the calls inside opRendezvous in this process.
var rendezvous atomic.Int32

// opRendezvous waits until n calls of its process are inside it at once,
// for at most two seconds, and returns 1 if they were.
var opRendezvous = RegisterOp("test.rendezvous", func(n int32) (Result, error) {
	rendezvous.Add(1)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if rendezvous.Load() >= n {
			return Result{Ret: 1}, nil
		}
		time.Sleep(time.Millisecond)
	}
	return Result{}, nil
})

// TestScenarioAsync: the calls of a batch run on their threads at the same
// time; a call that is not async waits for the calls before it.
func TestScenarioAsync(t *testing.T) {
	s := &Scenario{Procs: []*Process{{Comm: "sh", Threads: 2, Calls: []Call{
		{Op: opRendezvous, Args: 3, Thread: 1, Async: true},
		{Op: opRendezvous, Args: 3, Thread: 2, Async: true},
		{Op: opRendezvous, Args: 3, Thread: 0},
		{Op: opWhoami, Thread: 1},
	}}}}
	p := launch(t, s)[0]
	if !p.Ready || p.Code != 0 || p.Signal != 0 {
		t.Fatalf("process: %+v, stderr %q", p, p.Stderr)
	}
	for i, c := range p.Calls[:3] {
		if c.State != Done || c.Result.Ret != 1 {
			t.Errorf("call %d of the batch: %+v: the three did not run at once", i, c)
		}
	}
	if c := p.Calls[3]; c.State != Done || c.Tid != p.Calls[0].Tid {
		t.Errorf("the call after the batch: %+v", c)
	}
}

type words []string

func (w words) Words() []string { return w }

// TestLinePlan: the plan a lab's own trigger program reads.
func TestLinePlan(t *testing.T) {
	p := &Process{Threads: 2, Calls: []Call{
		{Op: "call", Args: words{"check_pin", "x61", "12"}, Thread: 1, Async: true},
		{Op: "call", Args: words{"check_pin", "x", "-3"}},
	}}
	b, err := LinePlan(p)
	if err != nil {
		t.Fatal(err)
	}
	want := "2 2\n1 1 call check_pin x61 12\n0 0 call check_pin x -3\n"
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	for _, bad := range []any{words{"a b"}, words{""}, 7} {
		if _, err := LinePlan(&Process{Calls: []Call{{Op: "call", Args: bad}}}); err == nil {
			t.Errorf("arguments %#v: no error", bad)
		}
	}
}

// TestDeal: calls go to the processes in turn, on the main thread, another
// thread, or any, as each asks.
func TestDeal(t *testing.T) {
	r := SeedFrom(1)
	procs := []*Process{{Threads: 2}, {Threads: 1}}
	var calls []Dealt
	for i := 0; i < 30; i++ {
		calls = append(calls, Dealt{Call: Call{Op: "x", Weight: i}, Thread: i%3 - 1})
	}
	Deal(r, procs, calls)
	for pi, p := range procs {
		if len(p.Calls) != 15 {
			t.Errorf("process %d got %d calls, want 15", pi, len(p.Calls))
		}
		for _, c := range p.Calls {
			want := calls[c.Weight].Thread
			switch {
			case c.Thread < 0 || c.Thread > p.Threads:
				t.Errorf("call %d on thread %d of %d", c.Weight, c.Thread, p.Threads)
			case want == 0 && c.Thread != 0, want == 1 && c.Thread == 0:
				t.Errorf("call %d asked for thread kind %d, got thread %d", c.Weight, want, c.Thread)
			}
		}
	}
}

// TestAt: a call made At a directory and a working directory gets a
// descriptor of the first and runs in the second; done puts both back.
func TestAt(t *testing.T) {
	dir, cwd := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Getwd()
	fd, done, err := At(dir, cwd)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(fd, "f", &st, 0); err != nil {
		t.Errorf("f relative to the descriptor: %v", err)
	}
	if wd, _ := os.Getwd(); wd != cwd {
		t.Errorf("working directory %s, want %s", wd, cwd)
	}
	done()
	if wd, _ := os.Getwd(); wd != before {
		t.Errorf("after done, working directory %s, want %s", wd, before)
	}
	if _, _, err := At(filepath.Join(dir, "missing"), ""); err == nil {
		t.Error("At a missing directory: no error")
	}
}

var opSleep = RegisterOp("test.sleep", func(ms int) (Result, error) {
	time.Sleep(time.Duration(ms) * time.Millisecond)
	return Result{}, nil
})

// noOpenEnv makes the test binary the grader of TestGoOpensNoFile.
const noOpenEnv = "BPFLAB_TEST_GO_OPENS_NO_FILE"

// TestGoOpensNoFile: while the processes make their calls, the grader
// opens no file, so a program that kills every process opening one
// (lab 1's kill-everyone.bpf.c) cannot reach it, however long the calls
// take and whether or not one of the processes is stopped. A copy of this
// test binary starts a scenario, forbids itself open(2), openat(2) and
// openat2(2) (seccomp: the process is killed), and lets it go.
func TestGoOpensNoFile(t *testing.T) {
	if os.Getenv(noOpenEnv) == "1" {
		goWithoutOpening(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGoOpensNoFile$")
	cmd.Env = append(os.Environ(), noOpenEnv+"=1", "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "went without opening a file") {
		t.Fatalf("the grader: %v\n%s", err, out)
	}
}

func goWithoutOpening(t *testing.T) {
	s := &Scenario{Together: 2, Deadline: 5 * time.Second, Procs: []*Process{
		{Comm: "slow", Calls: []Call{{Op: opSleep, Args: 200}, {Op: opWhoami}}},
		{Comm: "stopped", Calls: []Call{{Op: opSleep, Args: 50}, {Op: opSignal, Args: int(syscall.SIGSTOP)}}},
	}}
	st, err := prepared(t, s).Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	// From here on, an open kills this process (SIGSYS).
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	filter := []unix.SockFilter{
		{Code: ldAbs, K: 0}, // the syscall's number
		{Code: jeq, Jt: 3, K: unix.SYS_OPENAT},
		{Code: jeq, Jt: 2, K: unix.SYS_OPEN},
		{Code: jeq, Jt: 1, K: unix.SYS_OPENAT2},
		{Code: ret, K: unix.SECCOMP_RET_ALLOW},
		{Code: ret, K: unix.SECCOMP_RET_KILL_PROCESS},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); e != 0 {
		t.Skipf("seccomp: %v", e)
	}
	res, err := st.Go(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Done() != 2 || !res[1].Stopped {
		t.Fatalf("slow made %d of 2 calls, stopped: %v", res[0].Done(), res[1].Stopped)
	}
	os.Stdout.WriteString("went without opening a file\n")
	os.Exit(0) // the test framework's own ending may open files
}

func TestOneOff(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		at := r.IntN(11)
		got := OneOff(r, "/etc/passwd", at)
		diff := 0
		for j := range got {
			if got[j] != "/etc/passwd"[j] {
				diff++
			}
		}
		if len(got) != 11 || diff != 1 || got[at] == "/etc/passwd"[at] {
			t.Fatalf("OneOff(%d) = %q: want /etc/passwd with byte %d changed", at, got, at)
		}
	}
}
