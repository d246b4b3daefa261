package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/bpflab/bpflab/internal/fileutil"
	"golang.org/x/sys/unix"
)

// A Scenario is what a behavioural check runs: several trigger processes,
// some started together, each making calls from its main thread and from
// other threads. A lab builds one from the run's random source, so names,
// counts, arguments and order differ from run to run while every kind of
// case the lab asks for is present in each.
type Scenario struct {
	Procs []*Process
	// Together is how many processes start at once (at least 1).
	Together int
	// Deadline bounds one group of processes, from start to exit
	// (default 10 s). A group that overruns it is killed and the
	// processes that had not finished are reported as hung; after that,
	// later groups get [HungAfter].
	Deadline time.Duration
}

// HungAfter bounds each group of processes once a group has hung.
const HungAfter = 3 * time.Second

// Process is one trigger process of a scenario.
type Process struct {
	// Comm is the process's name: the name of the file it is executed as
	// and of each of its threads. At most 15 bytes.
	Comm string
	// Threads is how many threads it has besides its main thread.
	Threads int
	// Calls are made one after the other, each on the thread it names.
	Calls []Call
	// Exe, when set, is a program of the lab (see [Lab.Build]) that the
	// process runs instead of the grader's own trigger. It reads a plan in
	// lines (see [LinePlan]) and reports as the grader's trigger does; the
	// Args of its calls implement [LineArgs].
	Exe string
	// Cgroup, when set, is the cgroup v2 directory the process starts in
	// (clone3's CLONE_INTO_CGROUP), so it is there from its first
	// instruction; otherwise it starts in the grader's.
	Cgroup string
	// ReusePid, when set, is the process id the process starts with: that
	// of an earlier process, which has ended (see [Scene.Reborn]). If
	// another process or thread holds it, the process starts with another
	// id ([ProcResult.Reused] says which).
	ReusePid int
}

// LineArgs are the arguments of a call to a lab's own trigger program
// ([Process.Exe]): words without blanks, which the program parses.
type LineArgs interface {
	Words() []string
}

// Word encodes bytes (a path, a name) as a word of a [LinePlan]: hex, or
// "-" for none, which bpflab_trigger.h's trigger_bytes decodes.
func Word(s string) string {
	if s == "" {
		return "-"
	}
	return hex.EncodeToString([]byte(s))
}

// Flag is a boolean as a word of a [LinePlan].
func Flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// LinePlan is the plan a lab's own trigger program reads on its standard
// input: a line "THREADS CALLS", then one line per call, "THREAD ASYNC OP
// WORDS...", ASYNC being 0 or 1. It then names its threads like itself,
// writes {"tids":[MAIN,T1,...]} on standard output, waits for one byte on
// standard input, and makes its calls (in batches, as [Call.Async] says),
// writing {"i":CALL,"tid":TID,"ret":RET} as each returns.
func LinePlan(p *Process) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d %d\n", p.Threads, len(p.Calls))
	for i, c := range p.Calls {
		la, ok := c.Args.(LineArgs)
		if !ok {
			return nil, fmt.Errorf("call %d (%s): arguments %T are not LineArgs", i, c.Op, c.Args)
		}
		async := 0
		if c.Async {
			async = 1
		}
		fmt.Fprintf(&b, "%d %d %s", c.Thread, async, c.Op)
		for _, w := range la.Words() {
			if w == "" || strings.ContainsAny(w, " \t\n") {
				return nil, fmt.Errorf("call %d (%s): word %q is empty or has blanks", i, c.Op, w)
			}
			b.WriteString(" " + w)
		}
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// Call is one operation a process makes.
type Call struct {
	// Op is an operation registered with [RegisterOp], and Args its
	// arguments (the type the operation was registered with).
	Op   string
	Args any
	// Thread is 0 for the main thread (tid == pid), 1..Threads for others.
	Thread int
	// Weight orders cases from the simplest: when several calls show the
	// same mistake, the report shows the one of least weight. Labs add
	// one for each unusual argument; a call from another thread adds one.
	Weight int
	// Async lets the next call start before this one returns: consecutive
	// async calls and the call after them form a batch, whose calls on
	// different threads run at the same time (each thread still makes its
	// own calls one after the other).
	Async bool
}

// CallState says how far a call got.
type CallState int

const (
	// NotRun: the process ended (or never started) before the call.
	NotRun CallState = iota
	// Died: the process died in this call.
	Died
	// Done: the call returned; its Result is valid.
	Done
)

// CallResult is a call as it ran.
type CallResult struct {
	Call
	Proc  *ProcResult
	Index int // in the process's calls
	State CallState
	// Tid is the thread the call ran (or was to run) on, when the process
	// started.
	Tid    int
	Result Result
}

// ProcResult is a trigger process as it ran.
type ProcResult struct {
	*Process
	Index int // in the scenario
	Pid   int
	Tids  []int
	// Ready is true once the process had started its threads.
	Ready bool
	Calls []*CallResult
	// Signal is the signal that killed it, or 0; Code its exit code.
	Signal syscall.Signal
	Code   int
	// Hung is true when it had not ended by the deadline, or was seen
	// stopped (Stopped), and the grader killed it.
	Hung    bool
	Stopped bool
	Stderr  string
	// StartErr is set when the process could not be started at all.
	StartErr error
	// Reused is true when the process got the id it asked for with
	// [Process.ReusePid].
	Reused bool
}

// Done is the number of calls that returned.
func (p *ProcResult) Done() int {
	n := 0
	for _, c := range p.Calls {
		if c.State == Done {
			n++
		}
	}
	return n
}

// Ordinary program names: trigger processes are named like the programs
// of a real system, so no name or prefix tells them apart.
var ordinaryNames = []string{
	"cat", "sh", "bash", "python3", "node", "less", "grep", "sed", "awk",
	"vim", "ls", "cp", "find", "sshd", "cron", "nginx", "java", "curl",
	"systemd", "dbus-daemon", "containerd", "kubelet", "runc", "perl",
	"ruby", "make", "gcc", "tar", "gzip", "rsync", "top", "ps", "env",
	"sudo", "login", "agetty", "journalctl", "apt-get", "dpkg", "git",
}

// OneOff is s with its byte at i replaced by another letter, digit or
// one of "._-": a name of s's length that a program comparing too few
// bytes, or the wrong ones, takes for s.
func OneOff(r *rand.Rand, s string, i int) string {
	const bytes = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
	b := []byte(s)
	for c := b[i]; b[i] == c; {
		b[i] = bytes[r.IntN(len(bytes))]
	}
	return string(b)
}

// longNames are ordinary names of the longest a comm holds, 15 bytes: a
// program that copies one byte too few of the comm cuts them.
var longNames = []string{"systemd-journal", "systemd-resolve", "containerd-shim", "kube-controller", "unattended-upgr"}

// RandomComms returns n process names: ordinary program names and random
// words, at least two of them equal (so a program that reports each name
// once is caught), at least two ordinary and, from four names on, one of
// 15 bytes, the most a comm holds.
func RandomComms(r *rand.Rand, n int) []string {
	out := make([]string, n)
	for i := range out {
		if i < 2 || r.IntN(3) > 0 {
			out[i] = ordinaryNames[r.IntN(len(ordinaryNames))]
			continue
		}
		w := make([]byte, 3+r.IntN(13))
		for j := range w {
			w[j] = byte('a' + r.IntN(26))
		}
		out[i] = string(w)
	}
	if n >= 4 {
		out[2] = longNames[r.IntN(len(longNames))]
	}
	if n >= 3 {
		out[n-1] = out[r.IntN(n-1)]
	}
	r.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// A Launcher starts trigger processes as copies of this binary named
// after their comm, so that even at exec, before a process names its
// threads, nothing in its name points at the grader.
type Launcher struct {
	dir  string
	src  string // the trigger, copied to bin when a process first needs it
	bin  string
	line bool // bin is a lab's C trigger: it reads a LinePlan
	env  []string
	exes map[string]string // a lab program's directory of names
	// scoped says the grader runs in a cgroup that is killed when it
	// ends ([scopedEnv]): its processes need no parent-death signal.
	scoped bool
}

// scopedEnv is set for a worker that runs in its own cgroup, which the
// guest's grader kills when the worker ends.
const scopedEnv = "BPFLAB_WORKER_SCOPE"

// NewLauncher makes a launcher of the running binary in dir (which it
// owns), copied there when a process first needs it.
func NewLauncher(dir string) (*Launcher, error) {
	return newLauncher(dir, "")
}

// newLauncher makes a launcher of trigger, a lab's C trigger
// ([Lab.Trigger]), or of the running binary when it is "", in dir.
func newLauncher(dir, trigger string) (*Launcher, error) {
	src := trigger
	if src == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		src = self
	}
	return &Launcher{dir: dir, src: src, bin: filepath.Join(dir, ".trigger"), line: trigger != "", env: processEnv,
		scoped: os.Getenv(scopedEnv) == "1"}, nil
}

// processEnv is the environment of a scenario's processes: that of a
// process a login shell started, not a bare one a program could tell
// from any real process by its size.
var processEnv = []string{
	"SHELL=/bin/bash", "COLORTERM=truecolor", "HISTCONTROL=ignoredups:ignorespace", "HOSTNAME=node-7f3c",
	"PWD=/root", "LOGNAME=root", "XDG_SESSION_TYPE=tty", "HOME=/root", "LANG=C.UTF-8",
	"LS_COLORS=rs=0:di=01;34:ln=01;36:mh=00:pi=40;33:so=01;35:do=01;35:bd=40;33;01:cd=40;33;01:or=40;31;01",
	"SSH_CONNECTION=10.0.2.2 50514 10.0.2.15 22", "LESSCLOSE=/usr/bin/lesspipe %s %s", "XDG_SESSION_CLASS=user",
	"TERM=xterm-256color", "LESSOPEN=| /usr/bin/lesspipe %s", "USER=root", "SHLVL=1", "XDG_SESSION_ID=3",
	"XDG_RUNTIME_DIR=/run/user/0", "SSH_CLIENT=10.0.2.2 50514 22", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"SSH_TTY=/dev/pts/0", "_=/usr/bin/env",
}

// copyTrigger copies the trigger into the launcher's directory, once: a
// scenario whose processes all run a lab's programs never needs it (under
// TCG copying this binary takes a sixth of a second).
func (l *Launcher) copyTrigger() error {
	if l.src == "" {
		return nil
	}
	if err := fileutil.Copy(l.src, l.bin, 0o755); err != nil {
		return fmt.Errorf("copying the trigger binary: %w", err)
	}
	l.src = ""
	return nil
}

// Prepare makes the executable names the scenario's processes need. It
// writes files, so call it before the student's program is attached.
func (l *Launcher) Prepare(s *Scenario) error {
	for _, p := range s.Procs {
		if p.Comm == "" || len(p.Comm) > 15 || strings.ContainsAny(p.Comm, "/\x00") {
			return fmt.Errorf("process name %q: want 1 to 15 bytes, no slash", p.Comm)
		}
		path := l.path(p)
		if _, err := os.Lstat(path); err == nil {
			continue
		}
		if p.Exe != "" {
			// A hard link, never a copy: probes attached to the lab's
			// program must fire in the process too.
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.Link(p.Exe, path); err != nil {
				return fmt.Errorf("naming %s %q: %w", p.Exe, p.Comm, err)
			}
			continue
		}
		if err := l.copyTrigger(); err != nil {
			return err
		}
		if err := os.Link(l.bin, path); err != nil {
			if err := fileutil.Copy(l.bin, path, 0o755); err != nil {
				return err
			}
		}
	}
	return nil
}

// path is where process p is executed from: a file named like p.Comm.
func (l *Launcher) path(p *Process) string {
	if p.Exe == "" {
		return filepath.Join(l.dir, p.Comm)
	}
	if l.exes == nil {
		l.exes = map[string]string{}
	}
	d, ok := l.exes[p.Exe]
	if !ok {
		d = filepath.Join(l.dir, fmt.Sprintf("exe%d", len(l.exes)))
		l.exes[p.Exe] = d
	}
	return filepath.Join(d, p.Comm)
}

// Started is a scenario whose processes have started and wait, each
// ready with its threads, for the word to make their calls.
type Started struct {
	s       *Scenario
	results []*ProcResult
	runs    []*running
}

type running struct {
	pr     *ProcResult
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	ready  chan struct{}
	ended  chan struct{} // stdout closed
	stderr bytes.Buffer
}

// Start starts every process of the scenario and waits until each is
// ready (its threads made and named) or gone, within the scenario's
// deadline. A process starting opens files (the Go runtime does): start
// before the student's program is attached, and those opens are not
// part of the scenario. Prepare must have been called.
func (l *Launcher) Start(ctx context.Context, s *Scenario) (*Started, error) {
	st := &Started{s: s}
	dctx, cancel := context.WithTimeout(ctx, s.deadline())
	defer cancel()
	for i, p := range s.Procs {
		// A C program reads a LinePlan; this binary a JSON plan.
		line := p.Exe != "" || l.line
		pl := plan{Comm: p.Comm, Threads: p.Threads}
		pr := &ProcResult{Process: p, Index: i}
		for j, c := range p.Calls {
			if c.Thread < 0 || c.Thread > p.Threads {
				return nil, fmt.Errorf("process %d call %d on thread %d of %d", i, j, c.Thread, p.Threads)
			}
			if !line {
				raw, err := json.Marshal(c.Args)
				if err != nil {
					return nil, fmt.Errorf("process %d call %d: %w", i, j, err)
				}
				pl.Calls = append(pl.Calls, planCall{Op: c.Op, Args: raw, Thread: c.Thread, Async: c.Async})
			}
			pr.Calls = append(pr.Calls, &CallResult{Call: c, Proc: pr, Index: j})
		}
		var b []byte
		var err error
		if line {
			b, err = LinePlan(p)
			b = bytes.TrimSuffix(b, []byte("\n"))
		} else {
			b, err = json.Marshal(pl)
		}
		if err != nil {
			return nil, fmt.Errorf("process %d: %w", i, err)
		}
		st.results = append(st.results, pr)
		r := l.start(pr, append(b, '\n'))
		st.runs = append(st.runs, r)
		if p.ReusePid != 0 {
			// Its threads take the ids after its own: let it make them
			// before the next process asks for its id.
			select {
			case <-r.ready:
			case <-r.ended:
			case <-dctx.Done():
			}
		}
	}
	for _, r := range st.runs {
		select {
		case <-r.ready:
			waitBlocked(dctx, r.pr.Pid)
		case <-r.ended:
		case <-dctx.Done():
		}
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	// Nothing is attached yet: a process that is not ready is the
	// grader's failure, not the program's.
	for _, r := range st.runs {
		if !r.pr.Ready {
			why := "it did not say it was ready within " + s.deadline().String()
			if r.pr.StartErr != nil {
				why = r.pr.StartErr.Error()
			} else {
				select {
				case <-r.ended:
					_ = r.cmd.Wait()
					why = fmt.Sprintf("it ended (%v)%s", r.cmd.ProcessState, lastLine(r.stderr.String()))
				default:
				}
			}
			return st, fmt.Errorf("trigger process %d (%q) did not start: %s", r.pr.Index, r.pr.Comm, why)
		}
	}
	return st, nil
}

// waitBlocked waits until process pid's main thread sits in the read(2)
// that waits for the go byte. A trigger enters that read after it says it
// is ready; a program attached before it had entered would see the read,
// which is none of the scenario's calls (a lab that counts reads would
// count it).
func waitBlocked(ctx context.Context, pid int) {
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
		if err != nil {
			return // no such process any more, or no /proc/PID/syscall
		}
		if f := strings.Fields(string(b)); len(f) > 1 && f[0] == strconv.Itoa(syscall.SYS_READ) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Millisecond):
		}
	}
}

func (s *Scenario) deadline() time.Duration {
	if s.Deadline > 0 {
		return s.Deadline
	}
	return 10 * time.Second
}

// start starts one process and hands it its plan.
func (l *Launcher) start(pr *ProcResult, plan []byte) *running {
	r := &running{pr: pr, ready: make(chan struct{}), ended: make(chan struct{})}
	var cgroupFD int
	if cg := pr.Process.Cgroup; cg != "" {
		// O_PATH: open(2) (never openat) of a directory, like harness.At.
		fd, err := openPath(cg)
		if err != nil {
			pr.StartErr = fmt.Errorf("opening cgroup %s: %w", cg, err)
			close(r.ended)
			return r
		}
		defer unix.Close(fd)
		cgroupFD = fd
	}
	var stdout io.ReadCloser
	var err error
	for try := 0; ; try++ {
		if want := pr.Process.ReusePid; want != 0 {
			// The kernel gives a new process the first free id after
			// ns_last_pid (CONFIG_CHECKPOINT_RESTORE).
			if err = os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(want-1)), 0); err != nil {
				err = fmt.Errorf("asking for process id %d: %w", want, err)
				break
			}
		}
		r.cmd, r.stdin, stdout, err = l.command(pr, cgroupFD, &r.stderr)
		if err != nil {
			break
		}
		pr.Reused = pr.Process.ReusePid != 0 && r.cmd.Process.Pid == pr.Process.ReusePid
		if pr.Process.ReusePid == 0 || pr.Reused || try == reuseTries-1 {
			break
		}
		// Something else took the id first (a thread of the grader's
		// runtime, most likely): end this one and ask again.
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.stderr.Reset()
	}
	if err != nil {
		r.cmd, r.stdin = nil, nil
		pr.StartErr = err
		close(r.ended)
		return r
	}
	pr.Pid = r.cmd.Process.Pid
	go readReports(r, stdout)
	_, _ = r.stdin.Write(plan)
	return r
}

// reuseTries bounds the starts of a process that asks for an id.
const reuseTries = 5

// command starts process pr's program, with a pipe for each of its
// standard streams (stderr into errs).
func (l *Launcher) command(pr *ProcResult, cgroupFD int, errs *bytes.Buffer) (*exec.Cmd, io.WriteCloser, io.ReadCloser, error) {
	// Explicit pipes for all three streams: os/exec opens /dev/null for a
	// nil one, and the grader must not open files while a program that
	// punishes openers is attached.
	// A lab's own programs and its C trigger read their plan whatever
	// their arguments: they get none, as an ordinary command may, so a
	// program under test cannot tell the grader's processes by theirs.
	// The bpflab binary needs the word that makes it a trigger.
	var args []string
	if !l.line && pr.Process.Exe == "" {
		args = append(args, TriggerCommand)
	}
	cmd := exec.Command(l.path(pr.Process), args...)
	cmd.Env = l.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if l.scoped && pr.Process.Cgroup == "" && pr.Index%2 == 1 {
		// A parent-death signal keeps a process from outliving the
		// grader, and few processes have one: a program could act only
		// on those that do. In a cgroup killed with the grader, every
		// other process goes without. (A process in a cgroup of its own,
		// a lab 7 pod's, keeps it.)
		cmd.SysProcAttr.Pdeathsig = 0
	}
	if pr.Process.Cgroup != "" {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, cgroupFD
	}
	stdin, err1 := cmd.StdinPipe()
	stdout, err2 := cmd.StdoutPipe()
	cmd.Stderr = errs
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return cmd, stdin, stdout, nil
}

// Go lets the processes make their calls, Together at a time, and returns
// how each ran. It opens no file, so a program that punishes processes
// that open files cannot reach the grader through it.
func (st *Started) Go(ctx context.Context) ([]*ProcResult, error) {
	together := max(st.s.Together, 1)
	deadline := st.s.deadline()
	for i := 0; i < len(st.runs); i += together {
		if runGroup(ctx, st.runs[i:min(i+together, len(st.runs))], deadline) {
			// A program that stops processes stops them in every group:
			// once it has been seen, later groups get a short deadline.
			deadline = min(deadline, HungAfter)
		}
		if err := ctx.Err(); err != nil {
			st.Kill()
			return st.results, err
		}
	}
	return st.results, nil
}

// Pid is the process id of p, one of the scenario's processes, or 0 if it
// did not start.
func (st *Started) Pid(p *Process) int {
	for _, r := range st.results {
		if r.Process == p {
			return r.Pid
		}
	}
	return 0
}

// Kill ends every process still running (after an error).
func (st *Started) Kill() {
	for _, r := range st.runs {
		if r.cmd != nil && r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			<-r.ended
			_ = r.cmd.Wait()
		}
	}
}

// Run starts the scenario's processes and lets them go at once.
func (l *Launcher) Run(ctx context.Context, s *Scenario) ([]*ProcResult, error) {
	st, err := l.Start(ctx, s)
	if err != nil {
		if st != nil {
			st.Kill()
		}
		return nil, err
	}
	return st.Go(ctx)
}

func runGroup(ctx context.Context, rs []*running, deadline time.Duration) (hung bool) {
	dctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	for _, r := range rs {
		if r.cmd == nil {
			continue
		}
		select {
		case <-r.ready:
			_, _ = r.stdin.Write([]byte{'g'})
		default:
		}
		r.stdin.Close()
	}
	for _, r := range rs {
		if r.cmd == nil {
			continue
		}
		if !waitEnded(dctx, r) {
			r.pr.Hung = true
			hung = true
			_ = r.cmd.Process.Kill()
			<-r.ended
		}
		err := r.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				r.pr.Signal = ws.Signal()
			} else {
				r.pr.Code = ee.ExitCode()
			}
		}
		if r.pr.Hung {
			r.pr.Signal = 0
		}
		r.pr.Stderr = r.stderr.String()
		// The call in which a process died is the first that did not return.
		if r.pr.Ready && (r.pr.Signal != 0 || r.pr.Hung) {
			for _, c := range r.pr.Calls {
				if c.State == NotRun {
					c.State = Died
					break
				}
			}
		}
	}
	return hung
}

// stopPoll is how often a process the grader waits for is looked at for
// a stop: a stopped process makes no call until another sends it SIGCONT,
// which nothing in a scenario does, so it is killed and reported at once
// instead of at the deadline.
const stopPoll = 20 * time.Millisecond

// waitEnded waits until r's process has ended (true), or until the
// deadline passes or the process is seen stopped (false; r.pr.Stopped
// says which).
func waitEnded(ctx context.Context, r *running) bool {
	select {
	case <-r.ended:
		return true
	default:
	}
	tick := time.NewTicker(stopPoll)
	defer tick.Stop()
	for {
		select {
		case <-r.ended:
			return true
		case <-ctx.Done():
			select {
			case <-r.ended: // ended as the deadline passed
				return true
			default:
				return false
			}
		case <-tick.C:
			if isStopped(r.pr.Pid) {
				r.pr.Stopped = true
				return false
			}
		}
	}
}

// isStopped tells whether child process pid is stopped (by a stop signal,
// or at a tracer's), leaving it to be waited for as it is: waitid with
// WNOWAIT, not /proc/PID/stat, because the programs under test watch
// processes that open files, and punish some.
func isStopped(pid int) bool {
	var info [128]byte // siginfo_t
	_, _, e := unix.Syscall6(unix.SYS_WAITID, unix.P_PID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])),
		unix.WSTOPPED|unix.WNOHANG|unix.WNOWAIT, 0, 0)
	// si_pid, at 16, is 0 when no child of pid's is stopped.
	return e == 0 && binary.LittleEndian.Uint32(info[16:20]) == uint32(pid)
}

// readReports reads a trigger's report lines: ready, then one per call.
func readReports(r *running, stdout io.Reader) {
	defer close(r.ended)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !r.pr.Ready {
			var rl readyLine
			if json.Unmarshal(line, &rl) != nil || len(rl.Tids) != r.pr.Threads+1 {
				continue
			}
			r.pr.Tids = rl.Tids
			for _, c := range r.pr.Calls {
				c.Tid = rl.Tids[c.Thread]
			}
			r.pr.Ready = true
			close(r.ready)
			continue
		}
		var d doneLine
		if json.Unmarshal(line, &d) != nil || d.I < 0 || d.I >= len(r.pr.Calls) {
			continue
		}
		c := r.pr.Calls[d.I]
		c.State, c.Result, c.Tid = Done, d.Result, d.Tid
	}
	// Drain whatever is left, so the process never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, stdout)
}

// SeedFrom returns a random source for a seed: the same seed gives the
// same scenario.
func SeedFrom(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x62_70_66_6c_61_62)) // "bpflab"
}
