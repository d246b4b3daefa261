// Package lab3 grades lab 3: a uprobe and a uretprobe on a function of a
// program the lab ships (pinlock's check_pin), which report each call's
// arguments and return value, paired per call.
//
// The lab builds pinlock on the host with gcc. Its processes are the
// grader's triggers: they call check_pin with random users and PINs (of the
// whole int range), from several threads, some at the same time; they also
// call a sibling function with the same signature, and an older build of
// the program (pinlock-legacy) calls its own check_pin. Neither may be
// reported. check_pin wipes the user name before it returns, so the
// string must be copied at the uprobe. Both programs must be on check_pin:
// another function of pinlock may return what check_pin returned.
//
// The guest has two vCPUs, and some calls are moved to the other CPU
// while check_pin waits, so arguments kept per CPU are lost; some users
// end right before an unmapped page, so a fixed-size read of them
// faults; some calls are made twice alike, and one process per run makes
// 50 to 80 calls, so a program that deduplicates or stops after a count
// misses some; and once the scenario is over, no hash map may still hold
// an entry of a thread whose calls all returned (a map that keeps them
// fills up, and then nothing is reported).
package lab3

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/bpflab/bpflab/harness"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

func init() { harness.Register(Lab) }

const (
	entrySection  = "uprobe/pinlock:check_pin"
	returnSection = "uretprobe/pinlock:check_pin"
)

// Function is the function both programs probe.
const Function = "check_pin"

// Programs are the lab's programs, built from pinlock.c: the one to probe
// and an older build with a function of the same name.
var Programs = map[string][]string{
	"pinlock":        nil,
	"pinlock-legacy": {"-DLEGACY"},
}

// Lab is lab 3.
var Lab = &harness.Lab{
	ID:        "lab-3",
	Title:     "A uprobe and a uretprobe report each call of a program's function, paired per call",
	Hook:      "uprobe + uretprobe on `check_pin` in the lab's `pinlock`",
	Teaches:   "probes on user programs (file and offset), user memory, pairing entry and return per thread",
	Level:     "intermediate",
	MinKernel: "5.10",
	Features: []harness.Feature{
		harness.FeatureBTF, harness.FeatureUprobe, harness.FeatureRingBuf,
		harness.FeatureHelper(ebpf.Kprobe, asm.FnProbeReadUserStr, "5.5"),
	},
	// Two CPUs: a call that starts on one and returns on the other shows
	// arguments kept in a per-CPU map (pinlock moves some on purpose).
	Needs: []string{"2 vCPUs (the guest gets them)"},
	CPUs:  2,
	// Beside other tests, on 6.18 and 7.x, known-wrong programs now and
	// then failed checks beyond their own mistake: no-delete.bpf.c
	// reported a thread's previous arguments (3 of 20 gradings), and
	// dedup.bpf.c left entries of calls that had returned (the kernel
	// counted no skipped run; not understood). Its matrix runs alone.
	Alone:    true,
	Dir:      "labs/lab-3",
	Source:   "pin.bpf.c",
	Solution: "solution/pin.bpf.c",
	Wants: []harness.ProgramWant{
		{Sections: []string{entrySection}, Prefix: "uprobe/"},
		{Sections: []string{returnSection}, Prefix: "uretprobe/"},
	},
	Checks: append(harness.EventChecks("lab3.h"), []harness.CheckDef{
		{Name: "attach", What: "the programs attach where their sections say, both to check_pin, in one of the lab's programs"},
		{Name: checkCalls, What: "every call of check_pin in pinlock, from any process or thread, gives one event with the process id, comm, user, pin and what that call returned"},
		{Name: checkConcurrent, What: "calls that threads of one process make at the same time are each paired with their own return"},
		{Name: checkSibling, What: "calls of check_pin_admin, which has the same signature, give no event"},
		{Name: checkOtherBinary, What: "calls of check_pin in pinlock-legacy, another program, give no event"},
		{Name: checkUnharmed, What: "every process runs all its calls to its end"},
		{Name: checkDeleted, What: "once the scenario is over, no hash map of the object holds an entry under the id (thread id or pid_tgid) of a thread whose calls all returned"},
	}...),
	Build: build,
	Run:   run,
}

// The lab's checks, declared once.
const (
	checkCalls       = "calls-reported"
	checkConcurrent  = "concurrent-calls"
	checkSibling     = "sibling-silent"
	checkOtherBinary = "other-binary-silent"
	checkUnharmed    = "processes-unharmed"
	checkDeleted     = "entries-deleted"
)

// sceneChecks are the checks the scenario's events and processes judge,
// in report order.
var sceneChecks = []string{checkCalls, checkConcurrent, checkSibling, checkOtherBinary, checkUnharmed}

// build compiles pinlock.c into the lab's programs, static, so the guest
// needs no C library.
func build(ctx context.Context, src, out string) error {
	for name, flags := range Programs {
		if err := harness.BuildC(ctx, src, out, name, "pinlock.c", "libc6-dev's libc.a", flags...); err != nil {
			return err
		}
	}
	return nil
}

// userLen is USER_LEN of lab3.h: a user is cut to userLen-1 bytes.
const userLen = 32

// rawEvent is struct event of lab3.h, field for field.
type rawEvent struct {
	Pid  uint32
	Pin  int32
	Ret  int32
	Comm [16]byte
	User [userLen]byte
}

// Event is struct event of lab3.h, decoded.
type Event struct {
	Pid  uint32
	Pin  int32
	Ret  int32
	Comm string
	User string
}

func decode(b []byte) (Event, error) {
	r, err := harness.Decode[rawEvent](b)
	if err != nil {
		return Event{}, err
	}
	return Event{Pid: r.Pid, Pin: r.Pin, Ret: r.Ret, Comm: harness.CString(r.Comm[:]), User: harness.CString(r.User[:])}, nil
}

// CallArgs are one call a pinlock process makes.
type CallArgs struct {
	Func   string // check_pin or check_pin_admin
	User   string
	Pin    int32
	Secret uint32 // the process's, the same for all its calls
	// Legacy: the call runs in pinlock-legacy; Together: at the same
	// time as calls on the process's other threads.
	Legacy   bool
	Together bool
	// Edge: the user ends right before an unmapped page; Move: the call
	// returns on another CPU than the one it started on (pinlock.c's
	// trigger_call says how); Burst: the call is one of the many a
	// process makes (a brute force), or comes after them.
	Edge, Move, Burst bool
	// Again: the process made the same call earlier (same function,
	// user and pin).
	Again bool
}

// Words are the call as pinlock reads it.
func (a CallArgs) Words() []string {
	how := ""
	if a.Edge {
		how += "e"
	}
	if a.Move {
		how += "m"
	}
	if how == "" {
		how = "-"
	}
	return []string{a.Func, "x" + hex.EncodeToString([]byte(a.User)), fmt.Sprint(a.Pin), fmt.Sprint(a.Secret), how}
}

// opCall is the operation pinlock's plan names; pinlock implements it.
const opCall = "call"

// salts are pinlock.c's: the PINs of each function of each build differ.
const (
	legacySalt = 0x1e6ac7
	adminSalt  = 0xad111
)

// PIN is the PIN pinlock gives user, as derive() in pinlock.c computes it.
func PIN(user string, secret, salt uint32) int32 {
	h := secret ^ salt
	for _, b := range []byte(user) {
		h = h*31 + uint32(b)
	}
	return int32(h % 10000)
}

// Returns is what a call returns.
func Returns(a CallArgs) int32 {
	if a.User == "" {
		return -1
	}
	salt := uint32(0)
	if a.Legacy {
		salt = legacySalt
	}
	if a.Func == "check_pin_admin" {
		salt ^= adminSalt
	}
	if PIN(a.User, a.Secret, salt) == a.Pin {
		return 1
	}
	return 0
}

func seen(user string) string {
	if len(user) > userLen-1 {
		return user[:userLen-1]
	}
	return user
}

// Rule is the lab's rule: every call of check_pin in pinlock gives one
// event {pid, comm, user as passed (cut to fit), pin, what it returned},
// whichever thread calls; check_pin_admin and pinlock-legacy give none.
func Rule(c *harness.CallResult) harness.Expect[Event] {
	a := c.Args.(CallArgs)
	switch {
	case a.Legacy:
		return harness.Expect[Event]{Silent: checkOtherBinary}
	case a.Func != "check_pin":
		return harness.Expect[Event]{Silent: checkSibling}
	}
	check := checkCalls
	if a.Together {
		check = checkConcurrent
	}
	ret := Returns(a)
	if c.State == harness.Done {
		ret = int32(c.Result.Ret)
	}
	return harness.Expect[Event]{Events: []harness.Want[Event]{{Check: check,
		Event: Event{Pid: uint32(c.Proc.Pid), Pin: a.Pin, Ret: ret, Comm: c.Proc.Comm, User: seen(a.User)}}}}
}

var oracle = &harness.Oracle[Event]{
	Rule: Rule,
	About: func(c *harness.CallResult, e Event) bool {
		a := c.Args.(CallArgs)
		return e.User == seen(a.User) && e.Pin == a.Pin
	},
	Pid:        func(e Event) uint32 { return e.Pid },
	Describe:   describe,
	Hint:       hint,
	LiveCheck:  checkUnharmed,
	StrayCheck: checkSibling,
}

func describe(c *harness.CallResult) string {
	a := c.Args.(CallArgs)
	u := fmt.Sprintf("%q", a.User)
	if len(a.User) > 40 {
		u = fmt.Sprintf("%q... (%d bytes)", a.User[:40], len(a.User))
	}
	s := fmt.Sprintf("%s(%s, %d)", a.Func, u, a.Pin)
	if c.State == harness.Done {
		s += fmt.Sprintf(" = %d", c.Result.Ret)
	}
	bin := "pinlock"
	if a.Legacy {
		bin = "pinlock-legacy"
	}
	s += " in " + bin
	if a.Together {
		s += ", while the process's other threads were in check_pin too"
	}
	if a.Edge {
		s += ", the user ending right before a page that is not mapped"
	}
	if a.Move {
		s += ", moved to another CPU while it waited"
		if from, to, ok := moved(c); ok {
			s += fmt.Sprintf(" (CPU %d at its entry, %d at its return)", from, to)
		}
	}
	if a.Again {
		s += ", the same call as an earlier one of the process"
	}
	if a.Burst {
		s += fmt.Sprintf(", the process's call %d of %d (a burst of tries from all its threads)", c.Index+1, len(c.Proc.Calls))
	}
	return s
}

// moved reads the CPUs a Move call ran on, at its entry and its return,
// from pinlock's note ("cpu0-cpu1").
func moved(c *harness.CallResult) (from, to int, ok bool) {
	if c.State != harness.Done {
		return 0, 0, false
	}
	n, err := fmt.Sscanf(c.Result.Note, "cpu%d-cpu%d", &from, &to)
	return from, to, err == nil && n == 2
}

// perCPU is the end of the hint for a call that lost its arguments
// between CPUs.
const perCPU = "a per-CPU map (BPF_MAP_TYPE_PERCPU_HASH, PERCPU_ARRAY) keeps one value per CPU, and a thread may return from check_pin on another CPU than the one it entered it on (the grader moves some threads while check_pin waits, as the scheduler may): the uretprobe then reads the other CPU's copy, empty. Keep the arguments in a BPF_MAP_TYPE_HASH keyed by the thread"

func hint(f *harness.Failure[Event]) string {
	switch f.Check {
	case checkCalls, checkConcurrent:
		switch f.Kind {
		case harness.Missing:
			if f.Every {
				return "no event reached the ring buffer: in the uretprobe, reserve a struct event, fill it with the arguments the uprobe kept and the return value, and submit it"
			}
			if f.Call != nil {
				a := f.Call.Args.(CallArgs)
				switch {
				case a.Move:
					return "this call started on one CPU and returned on another, and gave no event: " + perCPU
				case a.Again:
					return "a call made again with the same user and pin is a call too (a user who types the same wrong PIN twice tried twice): send an event for each, do not skip one because an earlier call looked the same"
				case a.Burst:
					return "a process that calls check_pin many times (a brute force tries PIN after PIN) must have every call reported: look for a limit or a count per process, or a map that fills up"
				}
			}
			return "every call must give an event: look for conditions (a name, a count, a map that is full or keyed wrongly) that make a call go unreported"
		case harness.Extra:
			return "send one event per call, from the uretprobe only, when the call has returned"
		case harness.Mismatch:
			a := f.Call.Args.(CallArgs)
			switch {
			case f.Got.Pin == 0 && f.Got.User == "" && f.Want.Pin != 0 && (a.Move || f.Want.User != ""):
				return "the event has pin 0 and no user, as if the uretprobe found an empty copy of the arguments: " + perCPU
			case f.Got.Pid != f.Want.Pid:
				return harness.PidHint
			case f.Got.Comm != f.Want.Comm:
				return harness.CommHint
			case a.Edge && f.Got.User == "" && f.Want.User != "":
				return "the user is empty for a name that ends right before a page that is not mapped: a read of a fixed size (bpf_probe_read_user of sizeof(user) bytes) goes past the string's end into that page, faults, and fails as a whole; copy the string with bpf_probe_read_user_str, which stops at its NUL"
			case f.Got.User == "" && f.Want.User != "":
				return "the user is empty: it is a pointer into the process's memory, and check_pin wipes the name before it returns; copy the string with bpf_probe_read_user_str at the uprobe, and keep the copy, not the pointer"
			case len(f.Got.User) < len(f.Want.User) && strings.HasPrefix(f.Want.User, f.Got.User):
				return "the user is cut short: copy up to sizeof(e->user) bytes, the whole buffer lab3.h gives"
			case f.Got.User == f.Want.User && f.Got.Pin != f.Want.Pin && (f.Got.Pin == int32(int16(f.Want.Pin)) || f.Got.Pin == int32(uint16(f.Want.Pin)) || f.Got.Pin == int32(int8(f.Want.Pin)) || f.Got.Pin == int32(uint8(f.Want.Pin))):
				return "the pin lost its upper bits: a caller can pass any int, not just 4 digits; keep it in an int (__s32) from the uprobe to the event"
			case f.Check == checkConcurrent && (f.Got.User != f.Want.User || f.Got.Pin != f.Want.Pin):
				return "an event pairs one call's return with another call's arguments: two threads of a process were inside check_pin at once; keep the arguments in a hash map keyed by the thread, the whole 64 bits of bpf_get_current_pid_tgid(), and look them up in the uretprobe"
			case f.Got.User != f.Want.User:
				return "the user is not the string this call passed: copy the string at the uprobe, where the pointer is valid"
			case f.Got.Pin != f.Want.Pin:
				return "the pin is not this call's second argument: take it from the uprobe's second argument, an int"
			case f.Got.Ret != f.Want.Ret:
				return "ret is not what this call returned: send the event from the uretprobe, BPF_KRETPROBE(name, int ret), once the call has returned"
			}
		}
	case checkSibling:
		return "report check_pin only: a uprobe fires at one function's address; attach to check_pin, not to the function beside it"
	case checkOtherBinary:
		return "a uprobe belongs to one program file: attach in pinlock (uprobe/pinlock:check_pin), not in every program with a function of that name"
	case checkUnharmed:
		return "your programs must not stop or kill the processes they watch"
	}
	return ""
}

// users are names the scenario's calls pass: ordinary ones, odd ones,
// one longer than struct event's user, and none.
func user(r *rand.Rand) string {
	switch r.IntN(10) {
	case 0:
		return ""
	case 1:
		w := make([]byte, userLen+r.IntN(40))
		for i := range w {
			w[i] = byte('a' + r.IntN(26))
		}
		return string(w)
	case 2:
		return fmt.Sprintf("ü-%d é", r.IntN(1000))
	}
	names := []string{"alice", "bob", "carol", "dave", "root", "admin", "www-data", "postgres", "nobody", "mallory"}
	return names[r.IntN(len(names))] + fmt.Sprint(r.IntN(100))
}

// edgePins are wrong PINs at the edges of the int range and of the
// narrower types a pin does not fit.
var edgePins = []int32{
	math.MinInt32, math.MinInt32 + 1, math.MaxInt32, math.MaxInt32 - 1,
	-1, 10000, math.MaxInt16, math.MaxInt16 + 1, math.MinInt16, math.MinInt16 - 1,
	math.MaxUint16, math.MaxUint16 + 1, -math.MaxUint16 - 1, 1 << 24, -(1 << 24) - 7,
}

// Wide reports whether pin fits neither 16 bits signed nor unsigned: a
// pin kept in a short loses it.
func Wide(pin int32) bool { return pin < math.MinInt16 || pin > math.MaxUint16 }

// widePin is a wrong PIN a 16-bit type cannot hold: an edge of the int
// range or anything in it.
func widePin(r *rand.Rand) int32 {
	for {
		p := int32(r.Uint32())
		if r.IntN(2) == 0 {
			p = edgePins[r.IntN(len(edgePins))]
		}
		if Wide(p) {
			return p
		}
	}
}

// wrongPin is a PIN other than pin, from the whole int range: a third
// look like PINs (4 digits), a third are edges, a third anything. A PIN
// pinlock gives is in [0, 10000), so any other value is wrong.
func wrongPin(r *rand.Rand, pin int32) int32 {
	var p int32
	switch r.IntN(3) {
	case 0:
		p = int32(r.IntN(10000))
	case 1:
		p = edgePins[r.IntN(len(edgePins))]
	default:
		p = int32(r.Uint32())
	}
	if p == pin {
		p = (pin + 1) % 10000
	}
	return p
}

// shortUser is a user that is not empty and is shorter than struct
// event's user: at a page's end, a read of the whole buffer from it
// reaches into the next page.
func shortUser(r *rand.Rand) string {
	for {
		if u := user(r); u != "" && len(u) < userLen-1 {
			return u
		}
	}
}

// callOpts say how the scenario makes one call.
type callOpts struct {
	fn     string
	thread int
	// together: at once with the process's other threads (async: the
	// batch goes on after it).
	together, async bool
	// right: 1 passes the right PIN, 0 a wrong one, -1 either; a wrong
	// PIN is wide when wide is set.
	right             int
	wide              bool
	edge, move, burst bool
	// user, when set, is the user (else a random one).
	user *string
}

// burstCalls are the least number of calls of the process that makes a
// burst, and how many more it may make.
const (
	burstCalls = 48
	burstMore  = 25
)

// scenario builds the run's processes: 4 or 5 pinlock processes with 1 to
// 3 extra threads, each calling check_pin one thread at a time (the main
// thread first, then another; one call with no user, one with a user at
// a page's end, one moved to the other CPU while it waits, one the same as
// an earlier one), then from all threads at once (one thread moved to the
// other CPU, the main thread repeating its call), with check_pin_admin
// mixed in; and 1 or 2 pinlock-legacy processes calling their check_pin.
// One pinlock process, with 3 extra threads, then tries 48 to 72 PINs for
// one user from all its threads at once, and makes two more calls one at
// a time. A third of the calls pass the right PIN, and in every process
// some do and some do not. Wrong PINs come from the whole int range,
// negative and beyond 16 bits among them, and in every process some of
// those are in calls one thread at a time and some at once.
func scenario(r *rand.Rand, pinlock, legacy string) *harness.Scenario {
	sc := &harness.Scenario{Together: 3}
	used := map[*harness.Process]map[int32]bool{}
	// call adds a call to p and returns its index.
	call := func(p *harness.Process, secret uint32, legacyBin bool, o callOpts) int {
		a := CallArgs{Func: o.fn, User: user(r), Secret: secret, Legacy: legacyBin, Together: o.together, Edge: o.edge, Move: o.move, Burst: o.burst}
		switch {
		case o.user != nil:
			a.User = *o.user
		case o.edge:
			a.User = shortUser(r)
		}
		salt := uint32(0)
		if legacyBin {
			salt = legacySalt
		}
		if o.fn == "check_pin_admin" {
			salt ^= adminSalt
		}
		if (o.right >= 0 || o.move) && a.User == "" {
			a.User = "root"
		}
		pin := PIN(a.User, secret, salt)
		// A wrong PIN is one no other call of the process passes: an
		// event then tells which call it is about (the sibling's or
		// check_pin's) even when its user is wrong.
		if used[p] == nil {
			used[p] = map[int32]bool{}
		}
		switch {
		case o.right == 1 || o.right < 0 && r.IntN(3) == 0:
			a.Pin = pin
		case o.wide:
			for a.Pin = widePin(r); used[p][a.Pin]; a.Pin = widePin(r) {
			}
		default:
			for a.Pin = wrongPin(r, pin); used[p][a.Pin]; a.Pin = wrongPin(r, pin) {
			}
		}
		used[p][a.Pin] = true
		w := 0
		if o.thread != 0 {
			w++
		}
		if o.together {
			w += 2
		}
		if o.edge || o.move || o.burst {
			w++
		}
		p.Calls = append(p.Calls, harness.Call{Op: opCall, Args: a, Thread: o.thread, Async: o.async, Weight: w})
		return len(p.Calls) - 1
	}
	// again adds call i of p once more, alike, on thread (at once with
	// the other threads when together is set).
	again := func(p *harness.Process, i, thread int, together, async bool) {
		c := p.Calls[i]
		a := c.Args.(CallArgs)
		a.Again, a.Together = true, together
		w := 1
		if thread != 0 {
			w++
		}
		if together {
			w += 2
		}
		c.Args, c.Thread, c.Async, c.Weight = a, thread, async, w
		p.Calls = append(p.Calls, c)
	}
	nPin := 4 + r.IntN(2)
	burster := r.IntN(nPin)
	for i := 0; i < nPin+1+r.IntN(2); i++ {
		legacyBin := i >= nPin
		p := &harness.Process{Threads: 1 + r.IntN(3), Exe: pinlock}
		if legacyBin {
			p.Exe = legacy
		}
		if i == burster {
			p.Threads = 3
		}
		secret := r.Uint32()
		// One at a time: the main thread, another thread, then any.
		for j := 0; j < 4+r.IntN(4); j++ {
			// The third call is to the sibling function, and later ones
			// may be.
			fn := "check_pin"
			if j == 2 || j > 2 && r.IntN(4) == 0 {
				fn = "check_pin_admin"
			}
			thread, right := r.IntN(p.Threads+1), -1
			if j < 2 {
				// The main thread with the right PIN, another thread
				// with a wrong one that fits no 16 bits: every run has
				// both returns, and a PIN an int must hold.
				thread, right = j*(1+r.IntN(p.Threads)), 1-j
			}
			call(p, secret, legacyBin, callOpts{fn: fn, thread: thread, right: right, wide: j == 1})
		}
		if !legacyBin {
			// In pinlock, in random order, from any thread: a user at a
			// page's end, a call that changes CPU, and one of the first
			// two calls (both check_pin) made again.
			extras := []func(){
				func() {
					call(p, secret, false, callOpts{fn: "check_pin", thread: r.IntN(p.Threads + 1), right: -1, edge: true})
				},
				func() {
					call(p, secret, false, callOpts{fn: "check_pin", thread: r.IntN(p.Threads + 1), right: -1, move: true})
				},
				func() { again(p, r.IntN(2), r.IntN(p.Threads+1), false, false) },
			}
			r.Shuffle(len(extras), func(i, j int) { extras[i], extras[j] = extras[j], extras[i] })
			for _, f := range extras {
				f()
			}
		}
		// And check_pin with no user (it returns -1), from any thread:
		// in every process, so that no run lacks one.
		c := &p.Calls[call(p, secret, legacyBin, callOpts{fn: "check_pin", thread: r.IntN(p.Threads + 1), right: -1})]
		a := c.Args.(CallArgs)
		a.User = ""
		c.Args = a
		// All threads at once, twice; the main thread has the right PIN,
		// the first other thread in the first round a wide wrong one, in the
		// second no user. In pinlock, the last thread's call in the
		// first round changes CPU, and the main thread makes its first
		// round's call again in the second.
		first := 0
		for round := 0; round < 2; round++ {
			for t := 0; t <= p.Threads; t++ {
				if round == 1 && t == 0 && !legacyBin {
					again(p, first, 0, true, true)
					continue
				}
				right := -1
				switch {
				case t == 0:
					right = 1
				case t == 1 && round == 0:
					right = 0
				}
				k := call(p, secret, legacyBin, callOpts{fn: "check_pin", thread: t, together: !legacyBin, async: t < p.Threads,
					right: right, wide: t == 1 && round == 0, move: !legacyBin && round == 0 && t == p.Threads})
				if t == 0 {
					first = k
				}
				if t == 1 && round == 1 {
					// No user, at once with the others.
					c := &p.Calls[k]
					a := c.Args.(CallArgs)
					a.User = ""
					c.Args = a
				}
			}
		}
		if i == burster {
			// A brute force: one user, many PINs (one right), from all
			// threads at once, each thread its share one after the
			// other; then two calls one at a time. A program that stops
			// after some number of calls per process misses the last
			// ones of both kinds.
			u := shortUser(r)
			n := burstCalls + r.IntN(burstMore)
			rightAt, t0 := r.IntN(n), r.IntN(p.Threads+1)
			for k := 0; k < n; k++ {
				right := 0
				if k == rightAt {
					right = 1
				}
				call(p, secret, false, callOpts{fn: "check_pin", thread: (t0 + k) % (p.Threads + 1), together: true, async: k < n-1,
					right: right, wide: r.IntN(3) == 0, burst: true, user: &u})
			}
			for k := 0; k < 2; k++ {
				call(p, secret, false, callOpts{fn: "check_pin", thread: r.IntN(p.Threads + 1), right: -1, burst: true})
			}
		}
		sc.Procs = append(sc.Procs, p)
	}
	for i, c := range harness.RandomComms(r, len(sc.Procs)) {
		sc.Procs[i].Comm = c
	}
	r.Shuffle(len(sc.Procs), func(i, j int) { sc.Procs[i], sc.Procs[j] = sc.Procs[j], sc.Procs[i] })
	return sc
}

// errNotCheckPin is a section naming a function other than check_pin.
var errNotCheckPin = errors.New("both programs go on check_pin, whose arguments and return value the events report")

// target splits a section "uprobe/BINARY:FUNCTION" into the lab program's
// path and the function, which must be check_pin: another function of
// pinlock may return check_pin's value (trigger_call does), and a uretprobe
// there would report it without ever seeing check_pin return.
func target(g *harness.G, section, prefix string) (string, string, error) {
	rest := strings.TrimPrefix(section, prefix)
	bin, fn, ok := strings.Cut(rest, ":")
	if !ok || bin == "" || fn == "" {
		return "", "", fmt.Errorf("section %q: want %sBINARY:FUNCTION, as in %q", section, prefix, entrySection)
	}
	if fn != Function {
		return "", "", fmt.Errorf("section %q names %s, not %s: %w", section, fn, Function, errNotCheckPin)
	}
	if _, ok := Programs[bin]; !ok {
		var names []string
		for n := range Programs {
			names = append(names, n)
		}
		return "", "", fmt.Errorf("section %q: %s is not one of the lab's programs (%s)", section, bin, strings.Join(names, ", "))
	}
	path, err := g.File(bin)
	return path, fn, err
}

func run(ctx context.Context, g *harness.G) {
	m, ok := harness.RingEvents[rawEvent](g, "events", "event", "lab3.h")
	if !ok {
		return
	}
	pinlock, err := g.File("pinlock")
	if err != nil {
		g.Fail("grader", err.Error(), "", "")
		return
	}
	legacy, err := g.File("pinlock-legacy")
	if err != nil {
		g.Fail("grader", err.Error(), "", "")
		return
	}
	if runtime.NumCPU() < g.Lab.CPUs {
		g.Fail("grader", fmt.Sprintf("this machine has %d CPU(s); the lab needs %d to move calls from one to another (bpflab gives its guest %d)", runtime.NumCPU(), g.Lab.CPUs, g.Lab.CPUs), "", "")
		return
	}
	sc := scenario(g.Rand, pinlock, legacy)
	launcher, err := g.Launcher()
	if err == nil {
		err = launcher.Prepare(sc)
	}
	if err != nil {
		g.Fail("grader", "preparing the scenario: "+err.Error(), "", "")
		return
	}
	entry, ret := g.Loaded.Prog[entrySection], g.Loaded.Prog[returnSection]
	var where []string
	out, err := harness.RunScene(ctx, &harness.Scene[Event]{
		Scenario: sc, Oracle: oracle, Events: m, Decode: decode,
		Progs: []*ebpf.Program{entry, ret}, Replayable: true,
		Checks: sceneChecks,
		Attach: func() (func(), error) {
			var links []link.Link
			detach := func() {
				for _, l := range links {
					l.Close()
				}
			}
			where = nil
			for _, p := range []struct {
				want, prefix string
				prog         *ebpf.Program
				ret          bool
			}{{entrySection, "uprobe/", entry, false}, {returnSection, "uretprobe/", ret, true}} {
				section := g.Loaded.Section[p.want]
				path, fn, err := target(g, section, p.prefix)
				if err != nil {
					detach()
					return nil, err
				}
				ex, err := link.OpenExecutable(path)
				if err != nil {
					detach()
					return nil, err
				}
				var l link.Link
				if p.ret {
					l, err = ex.Uretprobe(fn, p.prog, nil)
				} else {
					l, err = ex.Uprobe(fn, p.prog, nil)
				}
				if err != nil {
					detach()
					return nil, fmt.Errorf("section %q: %w", section, err)
				}
				links = append(links, l)
				where = append(where, fmt.Sprintf("%s%s:%s", p.prefix, filepath.Base(path), fn))
			}
			return detach, nil
		},
	}, launcher)
	if harness.SceneFailed(g, err, attachHint) {
		return
	}
	g.Pass("attach", "attached "+strings.Join(where, " and "))
	if err := unmoved(out.Procs); err != nil {
		g.Fail("grader", err.Error(), "", "")
		return
	}
	verdicts := out.Remarks(g, "lab3.h")
	harness.Record(g, oracle, verdicts, map[string]string{
		checkCalls:       "each gave one event with the caller, the arguments and its return value",
		checkConcurrent:  "each was paired with its own return",
		checkSibling:     "no event",
		checkOtherBinary: "no event",
		checkUnharmed:    "every process made all its calls",
	})
	leftovers(g, out.Procs)
}

// unmoved is an error when a call the scenario moves to another CPU did
// not change CPU: the grade would not show arguments kept per CPU.
func unmoved(procs []*harness.ProcResult) error {
	for _, p := range procs {
		for _, c := range p.Calls {
			if c.State != harness.Done || !c.Args.(CallArgs).Move {
				continue
			}
			if from, to, ok := moved(c); !ok || from == to {
				return fmt.Errorf("pinlock could not move a call to another CPU while it waited (its note: %q): the guest needs 2 CPUs", c.Result.Note)
			}
		}
	}
	return nil
}

// leftovers judges checkDeleted: once the scenario is over, no hash map
// of the object may hold an entry under the id of a thread whose calls
// all returned (in a process that ended by itself): the entry of a call
// in flight must go when the call returns, or the map fills up after
// max_entries threads and from then on nothing is reported. A key is a
// thread's id when it is its pid_tgid (8 bytes) or, in 4 bytes, its thread
// id; not the main thread's, which is also the process id, the key of a
// map kept by process. A map is charged when it holds the ids of at least
// two such threads, so that a map keyed by something else (a pin) that
// holds one number equal to a thread id by chance is not.
func leftovers(g *harness.G, procs []*harness.ProcResult) {
	type thread struct {
		p   *harness.ProcResult
		tid int
	}
	byID64, byID32 := map[uint64]thread{}, map[uint32]thread{}
	for _, p := range procs {
		if p.Pid == 0 || !p.Ready || p.Hung || p.Signal != 0 {
			continue
		}
		ran, open := map[int]bool{}, map[int]bool{}
		for _, c := range p.Calls {
			ran[c.Tid] = true
			if c.State != harness.Done {
				open[c.Tid] = true
			}
		}
		for tid := range ran {
			if tid == 0 || open[tid] {
				continue
			}
			byID64[uint64(p.Pid)<<32|uint64(uint32(tid))] = thread{p, tid}
			if tid != p.Pid {
				byID32[uint32(tid)] = thread{p, tid}
			}
		}
	}
	var names []string
	for name, m := range g.Loaded.Coll.Maps {
		switch m.Type() {
		case ebpf.Hash, ebpf.LRUHash, ebpf.PerCPUHash, ebpf.LRUCPUHash:
			if m.KeySize() == 4 || m.KeySize() == 8 {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	for _, name := range names {
		m := g.Loaded.Coll.Maps[name]
		var found []thread
		var prev any // nil: the first key
		for n := uint32(0); n <= m.MaxEntries(); n++ {
			key, err := m.NextKeyBytes(prev)
			if err != nil {
				g.Fail("grader", fmt.Sprintf("reading map %s: %v", name, err), "", "")
				return
			}
			if key == nil {
				break
			}
			var t thread
			var ok bool
			if len(key) == 8 {
				t, ok = byID64[binary.NativeEndian.Uint64(key)]
			} else {
				t, ok = byID32[binary.NativeEndian.Uint32(key)]
			}
			if ok {
				found = append(found, t)
			}
			prev = key
		}
		if len(found) < 2 {
			continue
		}
		sort.Slice(found, func(i, j int) bool { return found[i].tid < found[j].tid })
		kind := "pid_tgid"
		if m.KeySize() == 4 {
			kind = "thread id"
		}
		var eg []string
		for _, t := range found[:min(3, len(found))] {
			eg = append(eg, fmt.Sprintf("thread %d of process %d (%s)", t.tid, t.p.Pid, t.p.Comm))
		}
		g.Fail(checkDeleted,
			fmt.Sprintf("map %s still holds entries keyed by the %s of %d threads whose calls of check_pin had all returned, such as %s", name, kind, len(found), strings.Join(eg, ", ")),
			fmt.Sprintf("delete the call's entry in the uretprobe (bpf_map_delete_elem) once you have read it, on every path, even when you send no event: entries of calls that returned pile up, and once %s holds max_entries (%d) of them, the uprobe can store no more and later calls are never reported", name, m.MaxEntries()), "")
		return
	}
	g.Pass(checkDeleted, fmt.Sprintf("no hash map holds an entry of any of the %d threads whose calls all returned", len(byID64)))
}

func attachHint(err error) string {
	if h := harness.AttachHint(err); h != "" {
		return h
	}
	if errors.Is(err, errNotCheckPin) {
		return "name check_pin in both sections, SEC(\"uprobe/pinlock:check_pin\") and SEC(\"uretprobe/pinlock:check_pin\"): a uretprobe on another function sees that function return, even one that passes check_pin's value on"
	}
	if errors.Is(err, link.ErrNoSymbol) {
		return "the function is not in that program's symbol table: list its functions with nm, as the README shows"
	}
	return "name the program and the function in the section: SEC(\"uprobe/pinlock:check_pin\") and SEC(\"uretprobe/pinlock:check_pin\")"
}
