// Package lab4 grades lab 4: BPF programs on the USDT probes of a program
// the lab ships (orders), written with libbpf's usdt.bpf.h, which report
// every firing of orders:placed and orders:audit with their arguments.
//
// The loader does what libbpf does for a "usdt/..." section and cilium/ebpf
// does not: it reads the probes from the program's .note.stapsdt, writes
// where each argument lives into usdt.bpf.h's spec map, and attaches a
// uprobe to each probe site with the semaphore's reference counter, which
// turns on orders:audit's expensive argument (harness/usdt).
package lab4

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/harness/usdt"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

func init() { harness.Register(Lab) }

const (
	placedSection = "usdt/orders:orders:placed"
	auditSection  = "usdt/orders:orders:audit"
)

// Program is the lab's program, built from orders.c.
const Program = "orders"

// Unoptimized is the same program built without optimization: its probes'
// arguments are on the stack, where Program's are in registers. The
// scenario runs both, and a variant, so only a program that reads the
// arguments where each build's notes say (BPF_USDT) reads them right in
// all.
const Unoptimized = "orders-O0"

// Variants are builds of orders whose probes keep their arguments in
// other registers (id, item, quantity of placed and cancelled; record and
// length of audit), with -1 in the registers Program and Unoptimized use.
// Each grading runs one of them, chosen by the seed, beside Program and
// Unoptimized: a program that reads the arguments where it saw them in
// the builds it looked at, instead of where the notes of the build that
// fired say, misses in the others.
var Variants = [][5]string{
	{"r13", "r14", "r15", "r10", "r11"},
	{"r8", "r9", "r10", "r13", "r14"},
	{"r15", "r13", "rcx", "r11", "r8"},
	{"r11", "rcx", "r13", "r9", "r15"},
	{"r14", "r10", "r8", "rcx", "r13"},
	{"r9", "r15", "r11", "r14", "r10"},
}

// Variant is the name of the build of Variants[i].
func Variant(i int) string { return fmt.Sprintf("orders-v%d", i+1) }

// Lab is lab 4.
var Lab = &harness.Lab{
	ID:        "lab-4",
	Title:     "USDT: a program's own static probes, with arguments by position and a probe that costs nothing until traced",
	Hook:      "USDT probes of the lab's `orders`, libbpf's `usdt.bpf.h`",
	Teaches:   "static probes a program ships, arguments by position, BPF cookies (5.15+) or addresses (5.10), semaphores",
	Level:     "intermediate",
	MinKernel: "5.10",
	Features: []harness.Feature{
		harness.FeatureBTF, harness.FeatureUprobe, harness.FeatureRingBuf,
		harness.FeatureHelper(ebpf.Kprobe, asm.FnProbeReadUserStr, "5.5"),
	},
	Dir:      "labs/lab-4",
	Source:   "order.bpf.c",
	Solution: "solution/order.bpf.c",
	Wants: []harness.ProgramWant{
		{Sections: []string{placedSection}, Prefix: "usdt/"},
		{Sections: []string{auditSection}, Prefix: "usdt/"},
	},
	Checks: append(harness.EventChecks("lab4.h"), []harness.CheckDef{
		{Name: "attach", What: "the programs attach to the probes their sections name, in the lab's program"},
		{Name: checkPlaced, What: "every firing of orders:placed, by any process or thread, gives one event with the process id, comm, order id (64 bits), item and quantity (signed)"},
		{Name: checkAudit, What: "every firing of orders:audit gives one event with the process id, comm, the record and its length"},
		{Name: checkCancelled, What: "firings of orders:cancelled, whose arguments are placed's, give no event"},
		{Name: checkUnharmed, What: "every process runs all its calls to its end"},
		{Name: checkGuarded, What: "the audit record is built only while a program is attached to orders:audit: never before, every time after"},
	}...),
	Build:      build,
	ReadObject: readObject,
	Run:        run,
}

// The lab's checks, declared once.
const (
	checkPlaced    = "placed-reported"
	checkAudit     = "audit-reported"
	checkGuarded   = "audit-guarded"
	checkCancelled = "cancelled-silent"
	checkUnharmed  = "processes-unharmed"
)

func build(ctx context.Context, src, out string) error {
	const needs = "sys/sdt.h from systemtap-sdt-dev, and libc6-dev's libc.a"
	if err := harness.BuildC(ctx, src, out, Program, "orders.c", needs); err != nil {
		return err
	}
	if err := harness.BuildC(ctx, src, out, Unoptimized, "orders.c", needs, "-O0"); err != nil {
		return err
	}
	for i, regs := range Variants {
		// Elsewhere in memory: on kernels without BPF cookies usdt.bpf.h
		// tells probes apart by address, and these would share Program's.
		flags := []string{"-Wl,-Ttext-segment=0x10000000"}
		for j, name := range []string{"ID_REG", "ITEM_REG", "QUANTITY_REG", "JSON_REG", "LENGTH_REG"} {
			flags = append(flags, fmt.Sprintf("-D%s=%q", name, regs[j]))
		}
		if err := harness.BuildC(ctx, src, out, Variant(i), "orders.c", needs, flags...); err != nil {
			return err
		}
	}
	return nil
}

// readObject reads an object that includes usdt.bpf.h and tells it
// whether this kernel has BPF cookies.
func readObject(obj string) (*ebpf.CollectionSpec, error) {
	spec, err := usdt.LoadCollectionSpec(obj)
	if err != nil {
		return nil, err
	}
	cookies, err := usdt.HaveCookie()
	if err != nil {
		return nil, err
	}
	if err := usdt.Prepare(spec, cookies); err != nil {
		return nil, err
	}
	return spec, nil
}

// textLen is TEXT_LEN of lab4.h: text is cut to textLen-1 bytes.
const textLen = 64

// Event kinds, as in lab4.h.
const (
	kindPlaced = 1
	kindAudit  = 2
)

// rawEvent is struct event of lab4.h, field for field.
type rawEvent struct {
	Pid      uint32
	Kind     uint32
	ID       uint64
	Quantity int32
	Length   int32
	Comm     [16]byte
	Text     [textLen]byte
}

// Event is struct event of lab4.h, decoded.
type Event struct {
	Pid      uint32
	Kind     uint32
	ID       uint64
	Quantity int32
	Length   int32
	Comm     string
	Text     string
	// Tail is what text holds after the string's NUL, from its first
	// byte that is not 0 to its last: the rule wants nothing there. A
	// program that does not clear the record leaves an older record's
	// bytes (the grader's filler here), one that copies a fixed size
	// copies what follows the string.
	Tail string
}

func decode(b []byte) (Event, error) {
	r, err := harness.Decode[rawEvent](b)
	if err != nil {
		return Event{}, err
	}
	return Event{Pid: r.Pid, Kind: r.Kind, ID: r.ID, Quantity: r.Quantity, Length: r.Length,
		Comm: harness.CString(r.Comm[:]), Text: harness.CString(r.Text[:]), Tail: tail(r.Text[:])}, nil
}

// tail is what b holds after its first NUL, without the zeroes at either
// end (bpf_probe_read_user_str zeroes the rest of the word it ends in).
func tail(b []byte) string {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return ""
	}
	return string(bytes.Trim(b[i+1:], "\x00"))
}

// OrderArgs are one call an orders process makes: place, cancel or audit
// an order.
type OrderArgs struct {
	Op       string
	ID       uint64
	Item     string
	Quantity int32
	// Edge puts the string the probe passes (the item, or the audit
	// record) at the end of a mapping whose next page is unmapped.
	Edge bool
	// Burst marks an order of the run's burst (see [scenario]), Again
	// one placed again as it was, as a retry does; orders.c never sees
	// either.
	Burst, Again bool
}

// Words are the call as orders.c reads it.
func (a OrderArgs) Words() []string {
	return []string{fmt.Sprint(a.ID), "x" + hex.EncodeToString([]byte(a.Item)), fmt.Sprint(a.Quantity), harness.Flag(a.Edge)}
}

// Record is the audit record orders.c builds for an order.
func Record(a OrderArgs) string {
	return fmt.Sprintf(`{"id":%d,"item":"%s","quantity":%d}`, a.ID, a.Item, a.Quantity)
}

func cut(s string) string {
	if len(s) > textLen-1 {
		return s[:textLen-1]
	}
	return s
}

// Rule is the lab's rule: a place fires orders:placed, which gives one
// event {pid, comm, id, item (cut to fit), quantity}; an audit that built
// its record (the call returns 1) fires orders:audit, which gives one event
// {pid, comm, record (cut), length}; a cancel gives none.
func Rule(c *harness.CallResult) harness.Expect[Event] {
	a := c.Args.(OrderArgs)
	pid, comm := uint32(c.Proc.Pid), c.Proc.Comm
	switch a.Op {
	case "place":
		return harness.Expect[Event]{Events: []harness.Want[Event]{{Check: checkPlaced,
			Event: Event{Pid: pid, Kind: kindPlaced, ID: a.ID, Quantity: a.Quantity, Comm: comm, Text: cut(a.Item)}}}}
	case "audit":
		if c.State == harness.Done && c.Result.Ret == 0 {
			return harness.Expect[Event]{Silent: checkAudit} // the probe did not fire
		}
		r := Record(a)
		return harness.Expect[Event]{Events: []harness.Want[Event]{{Check: checkAudit,
			Event: Event{Pid: pid, Kind: kindAudit, Length: int32(len(r)), Comm: comm, Text: cut(r)}}}}
	}
	return harness.Expect[Event]{Silent: checkCancelled}
}

var oracle = &harness.Oracle[Event]{
	Rule: Rule,
	About: func(c *harness.CallResult, e Event) bool {
		a := c.Args.(OrderArgs)
		if a.Op == "audit" {
			return e.Text == cut(Record(a))
		}
		// The id alone (or its lower half, for an id declared 32 bits
		// wide): items repeat between calls, ids do not.
		return e.ID == a.ID || e.ID == uint64(uint32(a.ID))
	},
	Pid:        func(e Event) uint32 { return e.Pid },
	Describe:   describe,
	Hint:       hint,
	LiveCheck:  checkUnharmed,
	StrayCheck: checkCancelled,
}

func describe(c *harness.CallResult) string {
	a := c.Args.(OrderArgs)
	item := fmt.Sprintf("%q", a.Item)
	if len(a.Item) > 40 {
		item = fmt.Sprintf("%q... (%d bytes)", a.Item[:40], len(a.Item))
	}
	edge := ""
	if a.Edge {
		edge = " (the string ends where its mapping does: the next page is unmapped)"
	}
	switch {
	case a.Again:
		edge += ", the same order placed again"
	case a.Burst:
		edge += fmt.Sprintf(", the process's call %d of %d (a burst of orders from all its threads)", c.Index+1, len(c.Proc.Calls))
	}
	switch a.Op {
	case "place":
		return fmt.Sprintf("orders:placed(%d, %s, %d)%s", a.ID, item, a.Quantity, edge)
	case "cancel":
		return fmt.Sprintf("orders:cancelled(%d, %s, %d)%s", a.ID, item, a.Quantity, edge)
	}
	r := Record(a)
	return fmt.Sprintf("orders:audit(%q, %d)%s", cut(r), len(r), edge)
}

// unused says whether an event has a value in a field its kind does not
// use (length of a placed event, id or quantity of an audit).
func unused(e *Event) bool {
	if e.Kind == kindAudit {
		return e.ID != 0 || e.Quantity != 0
	}
	return e.Length != 0
}

// clearHint is the advice for a record with leftover bytes.
const clearHint = "clear the whole record right after reserving it (__builtin_memset(e, 0, sizeof(*e)); for a struct on the stack, struct event e = {}): the fields an event kind does not use must be 0, and so must text after the string's NUL"

func hint(f *harness.Failure[Event]) string {
	switch f.Check {
	case checkPlaced, checkAudit:
		switch f.Kind {
		case harness.Missing:
			if f.Every {
				return "no event reached the ring buffer for this probe: in its BPF_USDT program, reserve a struct event, fill it and submit it"
			}
			return "every firing must give an event: look for conditions (a name, a count, a value) that make your program skip one"
		case harness.Extra:
			return "send one event per firing"
		case harness.Mismatch:
			switch {
			case f.Got.Kind != f.Want.Kind:
				return "set kind to EVENT_PLACED for orders:placed and EVENT_AUDIT for orders:audit"
			case f.Got.Pid != f.Want.Pid:
				return harness.PidHint
			case f.Got.Comm != f.Want.Comm:
				return harness.CommHint
			case f.Got.ID != f.Want.ID && harness.Unset(f.Got.ID, 8),
				f.Got.Quantity != f.Want.Quantity && harness.Unset(uint64(uint32(f.Got.Quantity)), 4),
				f.Got.Length != f.Want.Length && harness.Unset(uint64(uint32(f.Got.Length)), 4):
				return harness.UnsetHint + "; here, " + clearHint
			case unused(f.Got) && !unused(f.Want):
				return "a field this event kind does not use holds leftover bytes (what was in the record's memory before): " + clearHint
			case f.Got.Tail != f.Want.Tail && strings.Trim(f.Got.Tail, "\xaa") == "":
				return "text holds 0xaa bytes after the string's NUL, what the grader fills the ring buffer with before the scenario: the string did not overwrite them, and your program did not clear the record (clearing id, quantity and length one by one leaves text); " + clearHint + "; on your own machine they would be an older event's bytes"
			case f.Got.Tail != f.Want.Tail && f.Got.Text == f.Want.Text:
				return "text holds bytes after the string's NUL: copy the string with bpf_probe_read_user_str, which stops at the NUL (a fixed-size copy takes the memory after it), into a cleared record"
			case f.Call != nil && f.Call.Args.(OrderArgs).Edge && f.Got.Text == "" && f.Want.Text != "":
				return "the text is empty: the string is in the program's memory and ends right before an unmapped page; copy it with bpf_probe_read_user_str, which stops at its NUL (a fixed-size bpf_probe_read_user reads past it, faults, and leaves nothing)"
			case f.Got.ID != f.Want.ID && f.Got.ID == uint64(uint32(f.Want.ID)):
				return "the order id lost its upper 32 bits: it is a 64-bit argument, declare it __u64 in BPF_USDT"
			case f.Got.ID == f.Want.ID && f.Got.Quantity != f.Want.Quantity && (f.Got.Quantity == int32(int16(f.Want.Quantity)) || f.Got.Quantity == int32(uint16(f.Want.Quantity)) || f.Got.Quantity == int32(int8(f.Want.Quantity)) || f.Got.Quantity == int32(uint8(f.Want.Quantity))):
				return "the quantity lost its upper bits: the probe's third argument is a 32-bit int (-4@ in its note); declare it int in BPF_USDT"
			case f.Got.ID != f.Want.ID || f.Got.Quantity != f.Want.Quantity ||
				f.Got.Length != f.Want.Length && f.Got.Text != f.Want.Text:
				build := ""
				if f.Proc != nil && f.Proc.Process != nil && f.Proc.Exe != "" {
					build = " (this process runs " + filepath.Base(f.Proc.Exe) + ")"
				}
				return "an argument is not the probe's" + build + ": BPF_USDT names them by position, (id, item, quantity) for placed, (json, length) for audit, with their types, and reads each where the build put it (registers in orders, the stack in orders-O0, other registers in the orders-vN the grader picks for each run): never read a register yourself"
			case f.Got.Text == "" && f.Want.Text != "":
				return "the text is empty: the string is in the program's memory; copy it with bpf_probe_read_user_str"
			case len(f.Got.Text) < len(f.Want.Text) && strings.HasPrefix(f.Want.Text, f.Got.Text):
				return "the text is cut short: copy up to sizeof(e->text) bytes"
			case f.Got.Length != f.Want.Length && (f.Got.Length == int32(int8(f.Want.Length)) || f.Got.Length == int32(uint8(f.Want.Length)) || f.Got.Length == int32(int16(f.Want.Length))):
				return "the length lost its upper bits: the audit probe's second argument is a 32-bit int (-4@ in its note); declare it int in BPF_USDT"
			case f.Got.Length != f.Want.Length:
				return "length is the audit probe's second argument"
			}
			return "the text is not the string the probe passed: copy the string its pointer argument points to"
		}
	case checkCancelled:
		return "report orders:placed and orders:audit only: each program's section names one probe"
	case checkUnharmed:
		return "your programs must not stop or kill the processes they watch"
	}
	return ""
}

// items are what the scenario orders: ordinary, odd, and longer than
// struct event's text.
func item(r *rand.Rand) string {
	switch r.IntN(8) {
	case 0:
		return letters(r, textLen+r.IntN(30))
	case 1:
		return accented(r)
	}
	return ordinary(r)
}

// ordinary is an item of at most 11 bytes.
func ordinary(r *rand.Rand) string {
	things := []string{"book", "lamp", "chair", "kettle", "bicycle", "tea", "socks", "cable", "monitor", "pen"}
	return fmt.Sprintf("%s-%d", things[r.IntN(len(things))], r.IntN(1000))
}

func accented(r *rand.Rand) string { return fmt.Sprintf("thé vert n°%d", r.IntN(100)) }

func letters(r *rand.Rand, n int) string {
	w := make([]byte, n)
	for i := range w {
		w[i] = byte('a' + r.IntN(26))
	}
	return string(w)
}

// edgeCalls are calls every run makes, whatever the seed, for values a
// mistake may get wrong that random ones would reach only in some runs:
// empty items, the quantities 0, -1, INT_MIN and INT_MAX, items longer
// than text, an accented item, an audit record longer than 255 bytes (a
// length declared 8 bits loses it), and strings (items, and records
// shorter than text) that end right before an unmapped page.
func edgeCalls(r *rand.Rand) []OrderArgs {
	id := func() uint64 { return r.Uint64N(1 << 62) }
	q := func() int32 { return quantity(r, false) }
	return []OrderArgs{
		{Op: "place", ID: id(), Item: "", Quantity: q()},
		{Op: "cancel", ID: id(), Item: "", Quantity: q()},
		{Op: "audit", ID: id(), Item: "", Quantity: q()},
		{Op: "place", ID: id(), Item: ordinary(r), Quantity: 0},
		{Op: "place", ID: id(), Item: ordinary(r), Quantity: -1},
		{Op: "place", ID: id(), Item: ordinary(r), Quantity: math.MinInt32},
		{Op: "place", ID: id(), Item: ordinary(r), Quantity: math.MaxInt32},
		{Op: "place", ID: id(), Item: letters(r, textLen+r.IntN(30)), Quantity: q()},
		{Op: "place", ID: id(), Item: accented(r), Quantity: q()},
		{Op: "audit", ID: id(), Item: letters(r, 230+r.IntN(20)), Quantity: q()},
		{Op: "place", ID: id(), Item: ordinary(r), Quantity: q(), Edge: true},
		{Op: "cancel", ID: id(), Item: ordinary(r), Quantity: q(), Edge: true},
		// A small id and an ordinary item: a record shorter than text.
		{Op: "audit", ID: r.Uint64N(1000), Item: ordinary(r), Quantity: q(), Edge: true},
	}
}

// edgeQuantities are quantities at the edges of the int range and of the
// narrower types a quantity does not fit.
var edgeQuantities = []int32{
	math.MinInt32, math.MinInt32 + 1, math.MaxInt32, math.MaxInt32 - 1, -1, 0,
	math.MaxInt16, math.MaxInt16 + 1, math.MinInt16, math.MinInt16 - 1,
	math.MaxUint16, math.MaxUint16 + 1, -math.MaxUint16 - 1, 1 << 24, -(1 << 24) - 3,
}

// Wide reports whether a quantity fits neither 16 bits signed nor
// unsigned: a quantity declared short loses it.
func Wide(q int32) bool { return q < math.MinInt16 || q > math.MaxUint16 }

// quantity is a quantity from the whole int range: half ordinary ones
// (some negative), a quarter edges, a quarter anything; wide, one that
// does not fit 16 bits.
func quantity(r *rand.Rand, wide bool) int32 {
	for {
		var q int32
		switch r.IntN(4) {
		case 0, 1:
			q = int32(r.IntN(2000) - 100)
		case 2:
			q = edgeQuantities[r.IntN(len(edgeQuantities))]
		default:
			q = int32(r.Uint32())
		}
		if !wide || Wide(q) {
			return q
		}
	}
}

// scenario builds the run's processes: 4 or 5 orders processes with
// random names and 1 or 2 extra threads, each placing orders (the first
// with an id above 2^32 and a negative quantity, from the main thread,
// the next from another thread, with a quantity that does not fit 16
// bits), cancelling some (same arguments, another probe) and auditing
// some, one thread at a time and then all at once. Quantities come from
// the whole int range, its edges included; every case of edgeCalls is
// made twice, in two processes, on any of their threads. One process also
// places a burst of 36 to 55 orders from all its threads at once, about a
// quarter of them the order before placed again.
func scenario(r *rand.Rand, exes []string) *harness.Scenario {
	sc := &harness.Scenario{Together: 3}
	nProcs := 4 + r.IntN(2)
	burster := r.IntN(nProcs)
	for i := 0; i < nProcs; i++ {
		// Every build, the first processes one each.
		exe := exes[r.IntN(len(exes))]
		if i < len(exes) {
			exe = exes[i]
		}
		p := &harness.Process{Threads: 1 + r.IntN(2), Exe: exe}
		call := func(op string, thread int, async bool, w int) {
			a := OrderArgs{Op: op, ID: r.Uint64N(1 << 62), Item: item(r), Quantity: quantity(r, len(p.Calls) == 1), Edge: r.IntN(6) == 0}
			if len(p.Calls) == 0 {
				a.ID, a.Quantity, a.Edge = 1<<32+r.Uint64N(1<<40), -int32(1+r.IntN(5)), false
			}
			p.Calls = append(p.Calls, harness.Call{Op: op, Args: a, Thread: thread, Async: async, Weight: w + weight(a, thread)})
		}
		ops := []string{"place", "place", "audit", "cancel"}
		for j := 0; j < 5+r.IntN(4); j++ {
			op, thread := ops[r.IntN(len(ops))], r.IntN(p.Threads+1)
			if j < len(ops) {
				// Each kind in every process: the first two from the
				// main thread and another one.
				op = ops[j]
				if j == 1 {
					thread = 1 + r.IntN(p.Threads)
				}
			}
			call(op, thread, false, 0)
		}
		if i == burster {
			// A burst: many orders from all threads at once, some of
			// them placed again as they were (a retry). A program that
			// stops after some number of events per process, drops an
			// id it has seen, or whose ring buffer is too small for a
			// burst misses some.
			n := burstOrders + r.IntN(burstMore)
			t0 := r.IntN(p.Threads + 1)
			var prev OrderArgs
			for k := 0; k < n; k++ {
				a := OrderArgs{Op: "place", ID: r.Uint64N(1 << 62), Item: item(r), Quantity: quantity(r, false), Burst: true}
				if k > 0 && r.IntN(4) == 0 {
					a, a.Again = prev, true
				}
				prev = a
				thread := (t0 + k) % (p.Threads + 1)
				p.Calls = append(p.Calls, harness.Call{Op: a.Op, Args: a, Thread: thread, Async: k < n-1, Weight: 1 + weight(a, thread)})
			}
		}
		for t := 0; t <= p.Threads; t++ {
			call(ops[r.IntN(len(ops))], t, t < p.Threads, 1)
		}
		sc.Procs = append(sc.Procs, p)
	}
	// The edge cases, twice, dealt to the processes in turn, each before
	// its process's last batch and after its first four calls.
	edges := append(edgeCalls(r), edgeCalls(r)...)
	for k, a := range edges {
		p := sc.Procs[k%len(sc.Procs)]
		thread := r.IntN(p.Threads + 1)
		at := 4 + r.IntN(len(p.Calls)-(p.Threads+1)-4+1)
		c := harness.Call{Op: a.Op, Args: a, Thread: thread, Weight: weight(a, thread)}
		p.Calls = append(p.Calls[:at], append([]harness.Call{c}, p.Calls[at:]...)...)
	}
	for i, c := range harness.RandomComms(r, len(sc.Procs)) {
		sc.Procs[i].Comm = c
	}
	return sc
}

// burstOrders are the least number of orders of the run's burst, and
// burstMore how many more it may have: with the process's other calls,
// over 40.
const (
	burstOrders = 36
	burstMore   = 20
)

// weight ranks a case in the report: the main thread's first, and strings
// in ordinary memory before those at the end of a mapping.
func weight(a OrderArgs, thread int) int {
	w := 0
	if thread != 0 {
		w++
	}
	if a.Edge {
		w++
	}
	return w
}

// target splits a section "usdt/BINARY:PROVIDER:NAME".
func target(section string) (bin, provider, name string, err error) {
	f := strings.Split(strings.TrimPrefix(section, "usdt/"), ":")
	if len(f) != 3 || f[0] == "" || f[1] == "" || f[2] == "" {
		return "", "", "", fmt.Errorf("section %q: want usdt/BINARY:PROVIDER:NAME, as in %q", section, placedSection)
	}
	if f[0] != Program {
		return "", "", "", fmt.Errorf("section %q: %s is not the lab's program (%s)", section, f[0], Program)
	}
	return f[0], f[1], f[2], nil
}

func run(ctx context.Context, g *harness.G) {
	m, ok := harness.RingEvents[rawEvent](g, "events", "event", "lab4.h")
	if !ok {
		return
	}
	exe, err := g.File(Program)
	if err != nil {
		g.Fail("grader", err.Error(), "", "")
		return
	}
	exe0, err := g.File(Unoptimized)
	if err != nil {
		g.Fail("grader", err.Error(), "", "")
		return
	}
	variant := Variant(g.Rand.IntN(len(Variants)))
	exeV, err := g.File(variant)
	if err != nil {
		g.Fail("grader", err.Error(), "", "")
		return
	}
	exes := []string{exe, exe0, exeV}
	var files []*usdt.File
	for _, x := range exes {
		f, err := usdt.Open(x)
		if err != nil {
			g.Fail("grader", "reading the lab program's probes: "+err.Error(), "", "")
			return
		}
		files = append(files, f)
	}
	mgr, err := usdt.NewManager(g.Spec, g.Loaded.Coll.Maps[usdt.SpecsMap], g.Loaded.Coll.Maps[usdt.IPMap])
	if err != nil {
		g.Fail("attach", err.Error(), "include <bpf/usdt.bpf.h> and write the programs with BPF_USDT, as the starter does", "")
		return
	}
	launcher, err := g.Launcher()
	if err != nil {
		g.Fail("grader", err.Error(), "", "")
		return
	}

	// Before anything is attached, the audit record must not be built.
	control := &harness.Scenario{Procs: []*harness.Process{{Comm: harness.RandomComms(g.Rand, 1)[0], Exe: exe}}}
	for i := 0; i < 3; i++ {
		a := OrderArgs{Op: "audit", ID: g.Rand.Uint64N(1 << 40), Item: item(g.Rand), Quantity: 1}
		control.Procs[0].Calls = append(control.Procs[0].Calls, harness.Call{Op: "audit", Args: a})
	}
	sc := scenario(g.Rand, exes)
	for _, s := range []*harness.Scenario{control, sc} {
		if err := launcher.Prepare(s); err != nil {
			g.Fail("grader", "preparing the scenario: "+err.Error(), "", "")
			return
		}
	}
	before, err := launcher.Run(ctx, control)
	if err != nil {
		g.Fail("grader", "running the control process: "+err.Error(), "", "")
		return
	}
	builtBefore := 0
	for _, c := range before[0].Calls {
		if c.State == harness.Done && c.Result.Ret != 0 {
			builtBefore++
		}
	}

	placed, audit := g.Loaded.Prog[placedSection], g.Loaded.Prog[auditSection]
	var where []string
	out, err := harness.RunScene(ctx, &harness.Scene[Event]{
		Scenario: sc, Oracle: oracle, Events: m, Decode: decode,
		Progs: []*ebpf.Program{placed, audit}, Replayable: true,
		Checks: []string{checkPlaced, checkAudit, checkCancelled, checkUnharmed},
		Attach: func() (func(), error) {
			var links []*usdt.Link
			detach := func() {
				for _, l := range links {
					l.Close()
				}
			}
			where = nil
			for _, p := range []struct {
				want string
				prog *ebpf.Program
			}{{placedSection, placed}, {auditSection, audit}} {
				section := g.Loaded.Section[p.want]
				_, provider, name, err := target(section)
				if err != nil {
					detach()
					return nil, err
				}
				for _, f := range files {
					l, err := mgr.Attach(p.prog, f, provider, name, nil)
					if err != nil {
						detach()
						return nil, fmt.Errorf("section %q: %w", section, err)
					}
					links = append(links, l)
				}
				where = append(where, section)
			}
			return detach, nil
		},
	}, launcher)
	if harness.SceneFailed(g, err, attachHint) {
		return
	}
	cookies := "BPF cookies"
	if ok, _ := usdt.HaveCookie(); !ok {
		cookies = "the instruction-address map (this kernel has no BPF cookies)"
	}
	g.Pass("attach", fmt.Sprintf("attached %s in %s, %s and %s; usdt.bpf.h finds the arguments through %s", strings.Join(where, " and "), Program, Unoptimized, variant, cookies))
	verdicts := out.Remarks(g, "lab4.h")
	harness.Record(g, oracle, verdicts, map[string]string{
		checkPlaced:    "each gave one event with the order's id, item and quantity",
		checkAudit:     "each gave one event with the record and its length",
		checkCancelled: "no event",
		checkUnharmed:  "every process made all its calls",
	})

	// The audit record: never built untraced, always built traced.
	audits, built := 0, 0
	for _, v := range out.Procs {
		for _, c := range v.Calls {
			if a := c.Args.(OrderArgs); a.Op == "audit" && c.State == harness.Done {
				audits++
				if c.Result.Ret != 0 {
					built++
				}
			}
		}
	}
	switch {
	case builtBefore > 0:
		g.Fail(checkGuarded, fmt.Sprintf("orders built the audit record %d of %d times before anything was attached", builtBefore, len(before[0].Calls)), "", "")
	case built < audits:
		g.Fail(checkGuarded, fmt.Sprintf("with your programs attached, orders built the audit record only %d of %d times: its semaphore stayed 0", built, audits),
			"the loader attaches with the probe's semaphore when the section names orders:audit; check the section", "")
	default:
		g.Pass(checkGuarded, fmt.Sprintf("record built 0 of %d times before attaching, %d of %d times while attached", len(before[0].Calls), built, audits))
	}
}

func attachHint(err error) string {
	if errors.Is(err, usdt.ErrNoProbe) {
		return "orders has the probes orders:placed, orders:cancelled and orders:audit: list them with readelf -n, as the README shows"
	}
	return harness.AttachHint(err)
}
