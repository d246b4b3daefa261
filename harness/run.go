package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Scene is what a lab hands the harness to run a scenario and judge it:
// the scenario, the rule, the ring buffer its program writes, and the
// attached programs.
type Scene[E comparable] struct {
	Scenario *Scenario
	Oracle   *Oracle[E]
	Events   *ebpf.Map
	Decode   func([]byte) (E, error)
	// Progs are the attached programs, whose runs the kernel may skip.
	Progs []*ebpf.Program
	// Replayable says a process of the scenario can run again as it is (its
	// calls need no fixture a first run used up).
	Replayable bool
	// Checks are the checks to judge, in report order.
	Checks []string
	// Attach attaches the programs and returns what detaches them. It is
	// called once for the scenario, after its processes have started, and
	// once for each replay.
	Attach func() (detach func(), err error)
	// Reborn, when set, is called for each process of the scenario once
	// it is over, and returns a new process (not one of the scenario's)
	// to run under the ended one's id, or nil (the kernel reuses process
	// ids: a program must not remember an id beyond the life of its
	// process). They run together, with the programs attached, and are
	// judged with the same rule.
	Reborn func(*ProcResult) *Process
}

// AttachError is an error of a Scene's Attach: the lab reports it as its
// attach check.
type AttachError struct{ Err error }

func (e *AttachError) Error() string { return e.Err.Error() }
func (e *AttachError) Unwrap() error { return e.Err }

// MaxReplays bounds how often processes whose events the kernel may have
// dropped are run again.
const MaxReplays = 3

// Outcome is a judged scene.
type Outcome[E comparable] struct {
	Verdicts []*Verdict[E]
	// Procs are the processes as they ran (a replayed one as it ran last).
	Procs []*ProcResult
	Stats Stats
	// Misses is how many runs of the programs the kernel skipped in the
	// last round of the scenario (and of its reborn processes); Replayed
	// how many processes were run again.
	Misses   uint64
	Replayed int
	// Events are all the events the programs sent, every round's.
	Events []E
}

// RunScene runs the scene's scenario and judges it: it starts the
// processes, attaches the programs, lets the processes make their calls
// while it collects the events, detaches, and compares.
//
// The kernel does not run a tracing program on a CPU where a BPF tracing
// program is already running, and counts each such skip (a recursion
// miss). Where a syscall tracepoint's program runs preemptibly (7.x
// kernels), a program preempted on a busy CPU makes the kernel skip other
// processes' runs, and their events are lost through no fault of the
// student. So when the programs' miss counter moved, the processes whose
// only faults are missing events or a missing kill (what a skipped run
// looks like) are run again, in fresh processes one at a time, up to
// [MaxReplays] times, and judged on their last run, as long as there are
// no more such processes than skipped runs. A program that skips cases on
// purpose skips them again.
func RunScene[E comparable](ctx context.Context, s *Scene[E], launcher *Launcher) (*Outcome[E], error) {
	// A program under test can kill any process: the judge charges that
	// to LiveCheck, which every lab declares, reacting or not.
	if s.Oracle.LiveCheck == "" || !slices.Contains(s.Checks, s.Oracle.LiveCheck) {
		return nil, fmt.Errorf("the lab's oracle names no LiveCheck among the scene's checks (%q): a process the program kills could not be judged", s.Oracle.LiveCheck)
	}
	out := &Outcome[E]{}
	// round runs processes with the programs attached and returns how they
	// ran, what the programs sent, and how many runs the kernel skipped.
	round := func(sc *Scenario) ([]*ProcResult, []E, uint64, error) {
		started, err := launcher.Start(ctx, sc)
		if err != nil {
			if started != nil {
				started.Kill()
			}
			return nil, nil, 0, err
		}
		detach, err := s.Attach()
		if err != nil {
			started.Kill()
			return nil, nil, 0, &AttachError{err}
		}
		before := misses(s.Progs)
		col, err := Collect(s.Events, s.Decode)
		if err != nil {
			detach()
			started.Kill()
			return nil, nil, 0, fmt.Errorf("reading the ring buffer: %w", err)
		}
		procs, err := started.Go(ctx)
		events, st := col.Stop()
		missed := misses(s.Progs) - before
		detach()
		out.Stats.Total += st.Total
		out.Stats.Bad += st.Bad
		if out.Stats.BadErr == nil {
			out.Stats.BadErr = st.BadErr
		}
		out.Stats.Kept += st.Kept
		return procs, events, missed, err
	}

	// play runs a scenario and judges it, running again the processes
	// whose only faults look like skipped runs.
	play := func(sc *Scenario) ([]*ProcResult, []*Verdict[E], error) {
		procs, events, missed, err := round(sc)
		if err != nil {
			return nil, nil, err
		}
		out.Events = append(out.Events, events...)
		verdicts := Judge(s.Oracle, procs, events, s.Checks)
		for r := 0; r < MaxReplays && missed > 0 && s.Replayable; r++ {
			suspects := skippedLooking(verdicts, procs)
			// Each skipped run explains at most one process's missing
			// event: more suspects than skips means the program missed
			// some itself.
			if len(suspects) == 0 || uint64(len(suspects)) > missed {
				break
			}
			// Reborn processes ask for their ids highest first (below).
			sort.SliceStable(suspects, func(i, j int) bool { return suspects[i].ReusePid > suspects[j].ReusePid })
			again := &Scenario{Together: 1, Deadline: sc.Deadline}
			for _, p := range suspects {
				again.Procs = append(again.Procs, p.Process)
			}
			replayed, events, m, err := round(again)
			if err != nil {
				return nil, nil, err
			}
			out.Replayed += len(replayed)
			missed = m
			out.Events = append(out.Events, events...)
			// The replayed processes take the place of the first ones.
			redo := map[*ProcResult]bool{}
			for _, p := range suspects {
				redo[p] = true
			}
			for i, p := range procs {
				if redo[p] {
					procs[i] = replayed[slices.Index(suspects, p)]
				}
			}
			verdicts = mergeVerdicts(verdicts, Judge(s.Oracle, replayed, events, s.Checks), redo)
		}
		out.Misses += missed
		return procs, verdicts, nil
	}

	procs, verdicts, err := play(s.Scenario)
	if err != nil {
		return nil, err
	}
	if s.Reborn != nil {
		again := &Scenario{Together: s.Scenario.Together, Deadline: s.Scenario.Deadline}
		for _, p := range procs {
			if p.Pid == 0 || p.Hung {
				continue
			}
			if q := s.Reborn(p); q != nil {
				q.ReusePid = p.Pid
				again.Procs = append(again.Procs, q)
			}
		}
		// Highest id first: the threads each makes as it starts take ids
		// above its own, never one a process started after it asks for.
		// (A lab's C trigger makes no thread once it is ready; the Go
		// trigger's runtime may, and take an id asked for later: that
		// process then runs under another id, [ProcResult.Reused].)
		sort.Slice(again.Procs, func(i, j int) bool { return again.Procs[i].ReusePid > again.Procs[j].ReusePid })
		if len(again.Procs) > 0 {
			reborn, rv, err := play(again)
			if err != nil {
				return nil, err
			}
			procs = append(procs, reborn...)
			for i, v := range verdicts {
				v.Cases += rv[i].Cases
				v.Failures = append(v.Failures, rv[i].Failures...)
				sort.SliceStable(v.Failures, func(a, b int) bool { return v.Failures[a].weight < v.Failures[b].weight })
			}
		}
	}
	out.Verdicts, out.Procs = verdicts, procs
	return out, nil
}

// misses is the programs' recursion-miss count (0 where the kernel does
// not report it).
func misses(progs []*ebpf.Program) uint64 {
	var n uint64
	for _, p := range progs {
		if p == nil {
			continue
		}
		if st, err := p.Stats(); err == nil {
			n += st.RecursionMisses
		}
	}
	return n
}

// skippedLooking returns the processes whose failures are what a skipped
// run of the program leaves and nothing else: a missing event, and, where
// the rule wants a kill, a process that went on. Processes with both
// (the full signature of a skipped run) are returned if there are any;
// else those with missing events only (a rule without kills).
func skippedLooking[E any](verdicts []*Verdict[E], procs []*ProcResult) []*ProcResult {
	missing, wentOn, other := map[*ProcResult]bool{}, map[*ProcResult]bool{}, map[*ProcResult]bool{}
	for _, v := range verdicts {
		for _, f := range v.Failures {
			p := f.Proc
			switch {
			case p == nil:
			case f.Kind == Missing:
				missing[p] = true
			case f.Kind == Reaction && p.Ready && p.Signal == 0 && !p.Hung && p.Code == 0:
				wentOn[p] = true
			default:
				other[p] = true
			}
		}
	}
	var both, only []*ProcResult
	for _, p := range procs {
		switch {
		case other[p] || !missing[p]:
		case wentOn[p]:
			both = append(both, p)
		default:
			only = append(only, p)
		}
	}
	if len(both) > 0 {
		return both
	}
	return only
}

// mergeVerdicts drops the failures of the replayed processes from old and
// adds those of their replays.
func mergeVerdicts[E any](old, replay []*Verdict[E], replayed map[*ProcResult]bool) []*Verdict[E] {
	for i, v := range old {
		var keep []*Failure[E]
		for _, f := range v.Failures {
			if f.Proc == nil || !replayed[f.Proc] {
				keep = append(keep, f)
			}
		}
		v.Failures = append(keep, replay[i].Failures...)
		sort.SliceStable(v.Failures, func(a, b int) bool { return v.Failures[a].weight < v.Failures[b].weight })
	}
	return old
}

// SceneFailed records an error of [RunScene], if there is one, and reports
// whether there was: an [AttachError] fails the attach check, with hint's
// advice for it ([AttachHint] when hint is nil); any other error fails the
// grader check.
func SceneFailed(g *G, err error, hint func(error) string) bool {
	var ae *AttachError
	switch {
	case errors.As(err, &ae):
		if hint == nil {
			hint = AttachHint
		}
		g.Fail("attach", ae.Error(), hint(ae.Err), "")
		return true
	case err != nil:
		g.Fail("grader", "running the scenario: "+err.Error(), "", "")
		return true
	}
	return false
}

// Remarks records what an outcome says besides its verdicts, and returns
// the verdicts left to record: records that could not be decoded fail the
// scene's first check (header is the lab's header, which defines the
// record) in place of its verdict; processes run again, and runs the
// kernel still skipped, are notes of the report.
func (o *Outcome[E]) Remarks(g *G, header string) []*Verdict[E] {
	if o.Replayed > 0 {
		g.Report.Notes = append(g.Report.Notes, fmt.Sprintf("the kernel skipped runs of your program while another was preempted on the CPU (recursion misses); %d process(es) whose events went missing were run again", o.Replayed))
	}
	if o.Misses > 0 {
		g.Report.Notes = append(g.Report.Notes, fmt.Sprintf("the kernel skipped %d run(s) of your program(s) in the last round (recursion misses): missing events may be the kernel's, grade again", o.Misses))
	}
	verdicts := o.Verdicts
	if o.Stats.Bad > 0 && len(verdicts) > 0 {
		g.Fail(verdicts[0].Check, fmt.Sprintf("%d of %d records could not be decoded: %v", o.Stats.Bad, o.Stats.Total, o.Stats.BadErr),
			"submit records of sizeof(struct event), as "+header+" defines it", "")
		verdicts = verdicts[1:]
	}
	return verdicts
}

// AttachTracepoint is a [Scene]'s Attach for a program on tracepoint
// group/name.
func AttachTracepoint(group, name string, prog *ebpf.Program) func() (func(), error) {
	return func() (func(), error) {
		l, err := link.Tracepoint(group, name, prog, nil)
		if err != nil {
			return nil, fmt.Errorf("attaching to %s/%s: %w", group, name, err)
		}
		return func() { l.Close() }, nil
	}
}
