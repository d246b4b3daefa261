package harness

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/google/go-cmp/cmp"
)

// Want is one event a call must produce, and the check that judges it.
type Want[E any] struct {
	Check string
	Event E
}

// Expect is what a lab's rule says of one call: the events it must
// produce (none for a decoy) and whether it must kill its process.
type Expect[E any] struct {
	Events []Want[E]
	// Silent is the check that judges events this call must not produce:
	// any event beyond Events.
	Silent string
	// Kill is true when the program must kill the calling process in this
	// call (SIGKILL, before the call returns).
	Kill bool
}

// Oracle states a lab's rule once, as a function from a call to what it
// must produce, and names the checks that judge each part of it. [Judge]
// compares the whole multiset of events attributable to a scenario's
// processes with what the rule asks for.
type Oracle[E comparable] struct {
	// Rule says what a call must produce. For a call that did not run
	// (State NotRun) only the checks it names matter.
	Rule func(c *CallResult) Expect[E]
	// About reports whether event e is about call c (for example: its path
	// is the call's), so an event nobody expected is charged to the call
	// that caused it.
	About func(c *CallResult, e E) bool
	// Pid is the process id an event claims.
	Pid func(e E) uint32
	// Describe is the call in words: `openat(AT_FDCWD, "/etc/passwd", O_RDONLY)`.
	Describe func(c *CallResult) string
	// Hint is advice for a failure, or "".
	Hint func(f *Failure[E]) string
	// KillCheck judges that processes are killed in the calls that must
	// kill them; LiveCheck that every other process runs all its calls
	// and exits. StrayCheck judges events of a scenario process that no
	// call explains (the process's start-up, for example).
	KillCheck, LiveCheck, StrayCheck string
}

// FailureKind says how a case broke the rule.
type FailureKind int

const (
	// Missing: a call gave no event where the rule wants one.
	Missing FailureKind = iota + 1
	// Mismatch: the event differs from the one wanted (Want and Got).
	Mismatch
	// Extra: a call gave events beyond what the rule wants.
	Extra
	// Stray: a process gave events none of its calls explains.
	Stray
	// NotRunKind: a call never ran, because its process died or stood
	// still earlier.
	NotRunKind
	// Reaction: a process was killed that must live, or lived (or died
	// otherwise) where it must be killed.
	Reaction
)

// Failure is one case that broke the rule.
type Failure[E any] struct {
	Kind  FailureKind
	Check string
	Proc  *ProcResult
	// Call is the call concerned, nil for a whole process.
	Call *CallResult
	// Want and Got are the expected and received events, when there are.
	Want, Got *E
	// Count is how many events the call gave when it gave too many.
	Count int
	// Words is the case in a sentence.
	Words string
	// Every is set on the failure a report shows when every case of its
	// check failed (nothing of the kind is right yet).
	Every bool
	// ThreadID is set when the event carries the calling thread's id where
	// the process id belongs.
	ThreadID bool
	weight   int
}

// ThreadIDHint is the hint for an event that carries the thread id where
// the process id belongs.
const ThreadIDHint = "bpf_get_current_pid_tgid() holds the thread id in its lower 32 bits and the process id (tgid) in its upper 32 bits: report the upper half"

// Verdict is the outcome of one check over a scenario.
type Verdict[E any] struct {
	Check    string
	Cases    int // how many cases the check judged
	Failures []*Failure[E]
}

// Judge compares what the scenario's processes did, and the events the
// program sent, with the oracle's rule, and returns one verdict per check
// in checks (in that order). Events whose process id is not one of the
// scenario's processes or threads are other processes' and are ignored.
func Judge[E comparable](o *Oracle[E], procs []*ProcResult, events []E, checks []string) []*Verdict[E] {
	verdicts := map[string]*Verdict[E]{}
	for _, c := range checks {
		verdicts[c] = &Verdict[E]{Check: c}
	}
	fail := func(f *Failure[E]) {
		v, ok := verdicts[f.Check]
		if !ok {
			panic("harness: the oracle names check " + f.Check + ", which the lab does not declare")
		}
		v.Failures = append(v.Failures, f)
	}
	count := func(check string) {
		if v, ok := verdicts[check]; ok {
			v.Cases++
		}
	}

	// Attribute events to processes by the pid they claim: the process id,
	// or (a common mistake) one of its thread ids.
	owner := map[uint32]*ProcResult{}
	for _, p := range procs {
		if p.Pid != 0 {
			owner[uint32(p.Pid)] = p
		}
		for _, t := range p.Tids {
			owner[uint32(t)] = p
		}
	}
	byProc := map[*ProcResult][]E{}
	for _, e := range events {
		if p := owner[o.Pid(e)]; p != nil {
			byProc[p] = append(byProc[p], e)
		}
	}

	for _, p := range procs {
		expects := make([]Expect[E], len(p.Calls))
		killAt := -1
		for i, c := range p.Calls {
			expects[i] = o.Rule(c)
			if expects[i].Kill && killAt < 0 {
				killAt = i
			}
		}
		judgeReaction(o, p, killAt, fail, count)
		judgeEvents(o, p, expects, killAt, byProc[p], fail, count)
	}

	out := make([]*Verdict[E], 0, len(checks))
	for _, c := range checks {
		v := verdicts[c]
		sort.SliceStable(v.Failures, func(i, j int) bool { return v.Failures[i].weight < v.Failures[j].weight })
		out = append(out, v)
	}
	return out
}

// where says who made a call: the process, and the thread when it is not
// the main one.
func where(c *CallResult) string {
	p := c.Proc
	if c.Thread == 0 {
		return "by " + procName(p)
	}
	nth := []string{"", "a second", "a third", "a fourth", "a fifth"}
	which := fmt.Sprintf("thread %d", c.Thread+1)
	if c.Thread < len(nth) {
		which = nth[c.Thread]
	}
	return fmt.Sprintf("from %s thread of %s", which, procName(p, fmt.Sprintf("tid %d", c.Tid)))
}

// ReusedHint is advice for a process that took the id of an ended one
// and was missed.
const ReusedHint = "the kernel gives the id of a process that ended to a new one: a map keyed by process id must forget an id when its process ends (or not remember ids at all)"

// procName names a process: its id and comm, more (if any), and whether
// it took the id of one that had ended.
func procName(p *ProcResult, more ...string) string {
	words := append([]string{strconv.Quote(p.Comm)}, more...)
	if p.Reused {
		words = append(words, "a new process with the id of one that ended")
	}
	return fmt.Sprintf("process %d (%s)", p.Pid, strings.Join(words, ", "))
}

func callWeight(c *CallResult) int {
	w := c.Weight
	if c.Thread > 0 {
		w++
	}
	return w
}

func judgeReaction[E comparable](o *Oracle[E], p *ProcResult, killAt int, fail func(*Failure[E]), count func(string)) {
	mustDie := killAt >= 0
	if mustDie {
		count(o.KillCheck)
	} else {
		count(o.LiveCheck)
	}
	f := func(check, words string, c *CallResult) {
		w := 0
		if c != nil {
			w = callWeight(c)
		}
		fail(&Failure[E]{Kind: Reaction, Check: check, Proc: p, Call: c, Words: words, weight: w})
	}
	name := procName(p)
	if mustDie && p.Calls[killAt].State == NotRun {
		c := p.Calls[killAt]
		fail(&Failure[E]{Kind: NotRunKind, Check: o.KillCheck, Proc: p, Call: c, weight: callWeight(c) + 100,
			Words: fmt.Sprintf("%s %s never ran: %s", o.Describe(c), where(c), whyNotRun(p))})
	}
	switch {
	case p.StartErr != nil:
		f(o.LiveCheck, fmt.Sprintf("a scenario process could not be started: %v", p.StartErr), nil)
	case p.Hung:
		c := firstState(p, Died)
		if c == nil {
			f(o.LiveCheck, fmt.Sprintf("%s stood still before its first call until the grader killed it (a stopped or blocked process)", name), nil)
			return
		}
		check, want := o.LiveCheck, "it must run on"
		if c.Index == killAt {
			check, want = o.KillCheck, "want it killed by SIGKILL in that call"
		}
		how := "the process stood still in this call until the grader killed it (stopped or blocked)"
		if p.Stopped {
			how = "the process was stopped in this call (by a stop signal such as SIGSTOP, which only SIGCONT undoes) and the grader killed it"
		}
		f(check, fmt.Sprintf("%s %s: %s; %s", o.Describe(c), where(c), how, want), c)
	case !p.Ready && p.Signal != 0:
		f(o.LiveCheck, fmt.Sprintf("%s was killed by %s as it started, before its first call (a new process opens files as it starts)", name, sigName(p.Signal)), nil)
	case !p.Ready:
		f(o.LiveCheck, fmt.Sprintf("%s failed to start (exit %d): %s", name, p.Code, strings.TrimSpace(p.Stderr)), nil)
	case p.Signal != 0:
		c := firstState(p, Died)
		if c != nil && c.Index == killAt {
			if p.Signal != syscall.SIGKILL {
				f(o.KillCheck, fmt.Sprintf("%s %s was killed by %s; want SIGKILL", o.Describe(c), where(c), sigName(p.Signal)), c)
			}
			return
		}
		if c == nil {
			f(o.LiveCheck, fmt.Sprintf("%s was killed by %s between its calls", name, sigName(p.Signal)), nil)
			return
		}
		f(o.LiveCheck, fmt.Sprintf("%s %s: the process was killed by %s in this call, which must not kill it", o.Describe(c), where(c), sigName(p.Signal)), c)
	case p.Code != 0:
		f(o.LiveCheck, fmt.Sprintf("%s ended with exit status %d: %s", name, p.Code, strings.TrimSpace(p.Stderr)), nil)
	case mustDie:
		c := p.Calls[killAt]
		f(o.KillCheck, fmt.Sprintf("%s %s returned and the process went on; want it killed (SIGKILL) in that call", o.Describe(c), where(c)), c)
	}
}

func firstState(p *ProcResult, s CallState) *CallResult {
	for _, c := range p.Calls {
		if c.State == s {
			return c
		}
	}
	return nil
}

func sigName(s syscall.Signal) string {
	names := map[syscall.Signal]string{syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM", syscall.SIGSTOP: "SIGSTOP",
		syscall.SIGSEGV: "SIGSEGV", syscall.SIGINT: "SIGINT", syscall.SIGUSR1: "SIGUSR1", syscall.SIGHUP: "SIGHUP"}
	if n, ok := names[s]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

type pending[E any] struct {
	call  *CallResult
	want  Want[E]
	got   *E
	exact bool
}

func judgeEvents[E comparable](o *Oracle[E], p *ProcResult, expects []Expect[E], killAt int, events []E, fail func(*Failure[E]), count func(string)) {
	// What the calls that ran must produce; a call that did not run
	// because of an unexpected death is a failure of every check it was
	// to be judged by.
	var wants []*pending[E]
	for i, c := range p.Calls {
		ex := expects[i]
		for _, w := range ex.Events {
			count(w.Check)
		}
		if len(ex.Events) == 0 && ex.Silent != "" {
			count(ex.Silent)
		}
		if c.State == NotRun {
			if killAt >= 0 && i > killAt {
				continue // after the call that kills: never to run
			}
			checks := map[string]bool{}
			for _, w := range ex.Events {
				checks[w.Check] = true
			}
			if len(ex.Events) == 0 && ex.Silent != "" {
				checks[ex.Silent] = true
			}
			for ch := range checks {
				fail(&Failure[E]{Kind: NotRunKind, Check: ch, Proc: p, Call: c, weight: callWeight(c) + 100,
					Words: fmt.Sprintf("%s %s never ran: %s", o.Describe(c), where(c), whyNotRun(p))})
			}
			continue
		}
		for _, w := range ex.Events {
			wants = append(wants, &pending[E]{call: c, want: w})
		}
	}

	// Exact matches first, in call order; then each remaining event goes to
	// a call that must give no event and that it is about; then to the
	// unmatched want it resembles most, from a call on the thread the event
	// names; then to a call it is about; the rest are strays.
	// An exact match goes first to a call on the thread the event names
	// (so a main-thread event does not take a want of another thread's
	// call when a program reports thread ids), then to any call.
	var rest []E
	for _, e := range events {
		var match *pending[E]
		for _, w := range wants {
			if w.got == nil && w.want.Event == e && (match == nil || uint32(w.call.Tid) == o.Pid(e) && uint32(match.call.Tid) != o.Pid(e)) {
				match = w
			}
		}
		if match == nil {
			rest = append(rest, e)
			continue
		}
		ev := e
		match.got, match.exact = &ev, true
	}
	extra := map[*CallResult][]E{}
	var strays []E
	for _, e := range rest {
		// An event about a call that must give none is that call's
		// mistake (a probe on the sibling function, a decoy reported),
		// not a wrong copy of some missing event.
		var silent *CallResult
		for _, c := range p.Calls {
			if c.State != NotRun && len(expects[c.Index].Events) == 0 && o.About(c, e) && (silent == nil || len(extra[c]) < len(extra[silent])) {
				silent = c
			}
		}
		if silent != nil {
			extra[silent] = append(extra[silent], e)
			continue
		}
		var best *pending[E]
		bestScore := 0
		for _, w := range wants {
			if w.got != nil {
				continue
			}
			pid := o.Pid(e)
			if pid != uint32(p.Pid) && pid != uint32(w.call.Tid) {
				continue
			}
			if s := sameFields(w.want.Event, e); s > bestScore {
				best, bestScore = w, s
			}
		}
		if best != nil {
			ev := e
			best.got = &ev
			continue
		}
		// The call it is about that has the fewest extra events so far, so
		// repeated calls share their events.
		var about *CallResult
		for _, c := range p.Calls {
			if c.State != NotRun && o.About(c, e) && (about == nil || len(extra[c]) < len(extra[about])) {
				about = c
			}
		}
		if about != nil {
			extra[about] = append(extra[about], e)
		} else {
			strays = append(strays, e)
		}
	}

	for _, w := range wants {
		c := w.call
		want := w.want.Event
		switch {
		case w.exact:
		case w.got == nil:
			fail(&Failure[E]{Kind: Missing, Check: w.want.Check, Proc: p, Call: c, Want: &want, weight: callWeight(c),
				Words: fmt.Sprintf("%s %s: no event; want %s", o.Describe(c), where(c), show(want))})
		default:
			words, tid := fieldWords(want, *w.got, p, c)
			fail(&Failure[E]{Kind: Mismatch, Check: w.want.Check, Proc: p, Call: c, Want: &want, Got: w.got, weight: callWeight(c),
				ThreadID: tid, Words: fmt.Sprintf("%s %s: %s", o.Describe(c), where(c), words)})
		}
	}
	for _, c := range p.Calls {
		es := extra[c]
		if len(es) == 0 {
			continue
		}
		ex := expects[c.Index]
		check := ex.Silent
		if len(ex.Events) > 0 {
			check = ex.Events[0].Check
		}
		got := es[0]
		var words string
		if len(ex.Events) == 0 {
			words = fmt.Sprintf("%s %s: %d event(s), first %s; want none", o.Describe(c), where(c), len(es), show(got))
		} else {
			words = fmt.Sprintf("%s %s: %d events; want %d", o.Describe(c), where(c), len(es)+len(ex.Events), len(ex.Events))
		}
		fail(&Failure[E]{Kind: Extra, Check: check, Proc: p, Call: c, Got: &got, Count: len(es), weight: callWeight(c), Words: words})
	}
	if len(strays) > 0 && o.StrayCheck != "" {
		got := strays[0]
		// The calls that wanted no event are where to look: name a few.
		var silent []string
		for _, c := range p.Calls {
			if c.State != NotRun && len(expects[c.Index].Events) == 0 && len(silent) < 3 {
				silent = append(silent, o.Describe(c))
			}
		}
		words := fmt.Sprintf("%s gave %d event(s) that none of its calls explains, first %s",
			procName(p), len(strays), show(got))
		if len(silent) > 0 {
			words += "; of its calls these want no event: " + strings.Join(silent, ", ")
		}
		fail(&Failure[E]{Kind: Stray, Check: o.StrayCheck, Proc: p, Got: &got, Count: len(strays), weight: 50, Words: words})
	}
}

func whyNotRun(p *ProcResult) string {
	switch {
	case p.StartErr != nil:
		return "its process could not start"
	case p.Hung:
		if p.Stopped {
			return "its process was stopped earlier and was killed by the grader"
		}
		return "its process stood still earlier and was killed by the grader"
	case !p.Ready:
		return "its process was killed as it started"
	case p.Signal != 0:
		return fmt.Sprintf("its process was killed (%s) in an earlier call", sigName(p.Signal))
	}
	return "its process ended early"
}

// show prints an event with its field names, long strings cut.
func show[E any](e E) string {
	v := reflect.ValueOf(e)
	if v.Kind() != reflect.Struct {
		return fmt.Sprintf("%+v", e)
	}
	var parts []string
	for i := 0; i < v.NumField(); i++ {
		if f := v.Type().Field(i); f.IsExported() {
			parts = append(parts, f.Name+":"+value(v.Field(i).Interface()))
		}
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// sameFields counts the fields two events agree on.
func sameFields[E any](a, b E) int {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Kind() != reflect.Struct {
		if reflect.DeepEqual(a, b) {
			return 1
		}
		return 0
	}
	n := 1 // any candidate beats none
	for i := 0; i < va.NumField(); i++ {
		if va.Type().Field(i).IsExported() && reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			n++
		}
	}
	return n
}

// fieldWords says how got differs from want, field by field, and names a
// thread id given for a process id (reported as tid).
func fieldWords[E any](want, got E, p *ProcResult, c *CallResult) (words string, tid bool) {
	va, vb := reflect.ValueOf(want), reflect.ValueOf(got)
	if va.Kind() != reflect.Struct {
		return fmt.Sprintf("the event is %v; want %v", got, want), false
	}
	var parts []string
	for i := 0; i < va.NumField(); i++ {
		f := va.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		w, g := va.Field(i).Interface(), vb.Field(i).Interface()
		if reflect.DeepEqual(w, g) {
			continue
		}
		s := fmt.Sprintf("the event says %s %s; want %s", strings.ToLower(f.Name), value(g), value(w))
		if isNum(g, c.Tid) && isNum(w, p.Pid) && c.Tid != p.Pid {
			s = fmt.Sprintf("the event says %s %d, which is the thread id; want %d", strings.ToLower(f.Name), c.Tid, p.Pid)
			tid = true
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "the event differs from " + show(want), tid
	}
	return strings.Join(parts, "; "), tid
}

func value(v any) string {
	if s, ok := v.(string); ok {
		if len(s) > 60 {
			return fmt.Sprintf("%q... (%d bytes)", s[:60], len(s))
		}
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%v", v)
}

func isNum(v any, n int) bool {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int() == int64(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint() == uint64(n)
	}
	return false
}

// Record turns verdicts into the report's checks: PASS with how many cases
// were judged, or FAIL with the smallest case in words, a hint, the other
// failing cases and the smallest case's diff.
func Record[E comparable](g *G, o *Oracle[E], verdicts []*Verdict[E], summary map[string]string) {
	for _, v := range verdicts {
		if len(v.Failures) == 0 {
			if v.Cases == 0 {
				g.Fail(v.Check, "no case of this check ran in the scenario", "", "")
				continue
			}
			what := summary[v.Check]
			if what == "" {
				what = "as the rule says"
			}
			g.Pass(v.Check, fmt.Sprintf("%d case(s): %s", v.Cases, what))
			continue
		}
		first := v.Failures[0]
		reason := first.Words
		calls, strays := map[any]bool{}, 0
		for _, f := range v.Failures {
			switch {
			case f.Kind == Stray:
				strays += f.Count
			case f.Call != nil:
				calls[f.Call] = true
			default:
				calls[f.Proc] = true
			}
		}
		switch {
		case len(v.Failures) == 1:
		case strays > 0 && len(calls) == 0:
			reason += fmt.Sprintf(" [%d events no call explains]", strays)
		case strays > 0:
			reason += fmt.Sprintf(" [%d of %d cases wrong, and %d events no call explains]", len(calls), v.Cases, strays)
		default:
			reason += fmt.Sprintf(" [%d of %d cases wrong]", len(calls), v.Cases)
		}
		first.Every = len(calls) >= v.Cases
		hint := ""
		switch {
		case first.Kind == NotRunKind:
			hint = "your program killed or stopped this process before the call: see the checks on reactions, and let processes you do not watch run"
		case first.ThreadID:
			hint = ThreadIDHint
		case o.Hint != nil:
			hint = o.Hint(first)
		}
		var detail strings.Builder
		if first.Want != nil && first.Got != nil {
			var want, got any
			if first.Want != nil {
				want = *first.Want
			}
			if first.Got != nil {
				got = *first.Got
			}
			fmt.Fprintf(&detail, "the smallest case, event (-want +got):\n%s", cmp.Diff(want, got))
		}
		if len(v.Failures) > 1 {
			fmt.Fprintf(&detail, "other cases:\n")
			for i, f := range v.Failures[1:] {
				if i == 8 {
					fmt.Fprintf(&detail, "  ... and %d more\n", len(v.Failures)-1-i)
					break
				}
				fmt.Fprintf(&detail, "  %s\n", f.Words)
			}
		}
		g.Fail(v.Check, reason, hint, strings.TrimRight(detail.String(), "\n"))
	}
}
