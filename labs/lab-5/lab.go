// Package lab5 grades lab 5: counting in the kernel. The student's kprobes
// on openat(2) and read(2) count each watched process's opens in a hash map
// and the byte counts of its reads in a log2 histogram; the grader makes an
// exact, random number of calls from threads on two CPUs at once and reads
// the maps.
package lab5

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/bpflab/bpflab/harness"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

func init() { harness.Register(Lab) }

const (
	openatSection = "ksyscall/openat"
	readSection   = "ksyscall/read"
)

// Lab is lab 5.
var Lab = &harness.Lab{
	ID:        "lab-5",
	Title:     "Count in the kernel: opens per process and a histogram of read sizes, right on every CPU",
	Hook:      "kprobes on the `openat` and `read` system calls (`ksyscall/`)",
	Teaches:   "counting in maps (hash, array, per-CPU), atomic increments on two CPUs, a log2 histogram, filtering by a map",
	Level:     "intermediate",
	MinKernel: "5.10",
	Features: []harness.Feature{
		harness.FeatureBTF, harness.FeatureKprobe,
	},
	Needs:    []string{"2 vCPUs (the guest gets them)"},
	Dir:      "labs/lab-5",
	Source:   "count.bpf.c",
	Solution: "solution/count.bpf.c",
	CPUs:     2,
	// Lost counts are races: they show only when both vCPUs run at once.
	Alone: true,
	Wants: []harness.ProgramWant{
		{Sections: []string{openatSection}},
		{Sections: []string{readSection}},
	},
	Checks: []harness.CheckDef{
		{Name: checkShapes, What: "openat_counts is a hash map of u32 process id to u64, read_sizes an array of HIST_SLOTS u64 (per-CPU kinds too)"},
		{Name: "attach", What: "both programs attach to the system calls' entry"},
		{Name: checkCounts, What: "each watched process making its calls one at a time has openat_counts[pid] equal to its openat calls, from all its threads"},
		{Name: checkConcurrent, What: "each watched process whose threads open files at once, on two CPUs, has its exact count"},
		{Name: checkHist, What: "read_sizes holds, slot by slot, exactly the byte counts the watched processes passed to read, while their threads read on two CPUs at once"},
		{Name: checkUnwatched, What: "processes that are not in watched leave no count and no read in the histogram"},
		{Name: checkUnharmed, What: "every process runs all its calls to its end"},
	},
	Run:     run,
	Trigger: "trigger.c",
}

// The lab's checks, declared once.
const (
	checkShapes     = "map-shapes"
	checkCounts     = "openat-counts"
	checkConcurrent = "counts-concurrent"
	checkHist       = "read-histogram"
	checkUnwatched  = "unwatched-ignored"
	checkUnharmed   = "processes-unharmed"
)

// HistSlots is HIST_SLOTS of lab5.h.
const HistSlots = 32

// Slot is size_slot of lab5.h: the histogram slot of a read's byte count.
func Slot(n uint64) int {
	if n == 0 {
		return 0
	}
	return min(bits.Len64(n)-1, HistSlots-1)
}

// The shape of a scenario. Concurrent processes make their opens and
// reads from every thread at once; the volume is what makes an increment
// that is not atomic lose counts on every run (measured in
// docs/benchmarks.md).
const (
	concurrentOpens = 60000 // per thread
	hotReads        = 40000 // per thread
)

// kind says what a process of the scenario is for.
type kind int

const (
	sequential kind = iota // watched, one call at a time
	concurrent             // watched, threads at once
	racing                 // watched, every thread's first openat at once
	unwatched              // not in watched
	reader                 // watched, reads only: never opens
)

// racers is how many racing processes a scenario has. Each makes only its
// first openat calls, from all its threads at once: the moment two
// threads may both find no entry and create it. They run first, so that
// they also fill a map with room for fewer processes than the grader
// watches (6 + racers or more) before the others.
const racers = 8

// racersMet is how many racing processes must show, in a round, two
// threads whose first openat runs both found no entry (the canary's own
// creation, run on the same calls), for the round to count.
const racersMet = 4

// maxRaceParts bounds how many parts of racers processes a round runs
// for racersMet of them to meet.
const maxRaceParts = 6

type proc struct {
	*harness.Process
	kind kind
}

// accModes are the access modes of open(2); every kind of process opens
// with each of them, with a random other flag or none.
var accModes = [...]int{unix.O_RDONLY, unix.O_WRONLY, unix.O_RDWR}

var otherFlags = [...]int{0, unix.O_CLOEXEC, unix.O_NONBLOCK, unix.O_APPEND, unix.O_NOFOLLOW, unix.O_DIRECTORY, unix.O_PATH}

// openArgs sets a's openat calls: of the file exists or of one beside it
// that does not exist (without name, a NULL name), by its full name or,
// with atDir, relative to a descriptor of its directory; with the access
// mode mode (mod 3) and a random other flag.
func openArgs(r *rand.Rand, a *CountArgs, exists string, name, atDir bool, mode int) {
	a.Flags = accModes[mode%len(accModes)] | otherFlags[r.IntN(len(otherFlags))]
	switch {
	case name && r.IntN(2) == 0:
		a.Path = exists
	case name:
		a.Path = filepath.Join(filepath.Dir(exists), "missing")
	}
	if atDir {
		a.Dir = filepath.Dir(exists)
		if a.Path != "" {
			a.Path = filepath.Base(a.Path)
		}
	}
}

// racePart builds racers racing processes, which run one at a time, each
// with both CPUs to itself, so that its threads meet. One batch: every
// thread, the main one too, leaves the trigger's rendezvous, then its
// tighter meeting point, at once and makes one or two opens (a NULL name,
// failing at once). The process's first openat calls meet at an entry
// that does not exist yet.
func racePart(r *rand.Rand, exists string) ([]*proc, *harness.Scenario) {
	var out []*proc
	sc := &harness.Scenario{Together: 1}
	for _, comm := range harness.RandomComms(r, racers) {
		p := &proc{Process: &harness.Process{Comm: comm, Threads: 2 + r.IntN(2)}, kind: racing}
		mode, atDir := r.IntN(len(accModes)), r.IntN(2)
		for t := 0; t <= p.Threads; t++ {
			a := CountArgs{Meet: p.Threads + 1, Opens: 1 + r.IntN(2)}
			openArgs(r, &a, exists, false, (t+atDir)%2 == 0, t+mode)
			p.Calls = append(p.Calls, harness.Call{Op: opCount, Args: a, Thread: t, Async: t < p.Threads})
		}
		out = append(out, p)
		sc.Procs = append(sc.Procs, p.Process)
	}
	return out, sc
}

// scenario builds the run's processes but the racing ones: 3 watched processes
// that call one thread at a time, 1 that only reads, 2 whose threads call
// at once, and 2 that are not watched, in random order and with random
// names shared between kinds. Every kind opens with every access mode, and
// both with AT_FDCWD and with a descriptor of the directory (a relative
// name, or none).
func scenario(r *rand.Rand, exists string) ([]*proc, *harness.Scenario) {
	open := func(a *CountArgs, name bool, atDir bool, mode int) { openArgs(r, a, exists, name, atDir, mode) }
	// Watched processes read sizes in slots 0 to 17 and the last (2^31
	// and more); processes that are not watched in slots 20 to 27 only, so
	// a read of theirs in the histogram is told apart. A watched size of
	// 2^32 or more has its low 32 bits below 2^20, so that a program that
	// cuts sizes to 32 bits puts it in a low slot, never in the slots of
	// the processes that are not watched (where it would look like theirs).
	watchedSize := func() uint64 {
		switch r.IntN(8) {
		case 0:
			return uint64(r.IntN(2)) // 0 and 1: slot 0
		case 1: // the last slot
			if r.IntN(2) == 0 {
				return 1<<31 + r.Uint64N(1<<31)
			}
			return uint64(1+r.IntN(1<<8))<<32 + r.Uint64N(1<<20)
		}
		s := r.IntN(18)
		return 1<<s + r.Uint64N(1<<s)
	}
	unwatchedSize := func() uint64 {
		s := 20 + r.IntN(8)
		return 1<<s + r.Uint64N(1<<s)
	}
	var out []*proc
	nConcurrent := 0
	add := func(k kind) {
		p := &proc{Process: &harness.Process{Threads: 1 + r.IntN(2)}, kind: k}
		mode, atDir := r.IntN(len(accModes)), r.IntN(2)
		switch k {
		case sequential, unwatched, reader:
			size := watchedSize
			if k == unwatched {
				size = unwatchedSize
			}
			// The first call only reads: the process reads before it
			// ever opens (a reader never does). Then at least three
			// calls open, with each access mode, alternately relative
			// to a directory descriptor.
			n := 4 + r.IntN(3)
			for i := 0; i < n; i++ {
				a := CountArgs{Repeat: 1 + r.IntN(3)}
				if i > 0 && k != reader {
					a.Opens = 1 + r.IntN(200)
					open(&a, true, (i+atDir)%2 == 0, i+mode)
				}
				if i == 0 && k == sequential {
					// The edges, in every run: 0 and 1, a count with bits
					// above the low 32 (slot 31, and a low slot for a
					// program that cuts it to 32 bits), and counts of
					// 2^63 and more, negative for a program that takes
					// count as signed (all slot 31: read fails, but it
					// is entered with them).
					a.Sizes = append(a.Sizes, 0, 1, uint64(1+r.IntN(255))<<32+r.Uint64N(1<<20),
						1<<63, 1<<63|r.Uint64N(1<<31)<<32|r.Uint64N(1<<20), ^uint64(0))
				}
				for j := r.IntN(4); j >= 0; j-- {
					a.Sizes = append(a.Sizes, size())
				}
				// The first two calls: the main thread, then another one.
				thread := r.IntN(p.Threads + 1)
				if i < 2 {
					thread = i
				}
				p.Calls = append(p.Calls, harness.Call{Op: opCount, Args: a, Thread: thread})
			}
		case concurrent:
			// Every thread, the main one too, opens at once, then reads
			// at once, all with one byte count: one slot every CPU adds
			// to at the same time.
			// The opens fail at once (a NULL name): as many as the
			// threads can make, so that their increments meet.
			// The first concurrent process reads before it opens.
			hot := watchedSize()
			p.Threads = 2 + r.IntN(2)
			var opens, reads []harness.Call
			for t := 0; t <= p.Threads; t++ {
				a := CountArgs{Opens: concurrentOpens + r.IntN(1000)}
				open(&a, false, (t+atDir)%2 == 0, t+mode)
				opens = append(opens, harness.Call{Op: opCount, Args: a, Thread: t, Async: t < p.Threads})
			}
			for t := 0; t <= p.Threads; t++ {
				a := CountArgs{Sizes: []uint64{hot}, Repeat: hotReads + r.IntN(1000)}
				reads = append(reads, harness.Call{Op: opCount, Args: a, Thread: t, Async: t < p.Threads})
			}
			if nConcurrent == 0 {
				opens, reads = reads, opens
			}
			nConcurrent++
			p.Calls = append(opens, reads...)
			// Then a call of other sizes, from one thread.
			a := CountArgs{Opens: 1 + r.IntN(50), Sizes: []uint64{watchedSize(), watchedSize()}}
			open(&a, true, r.IntN(2) == 0, r.IntN(len(accModes)))
			p.Calls = append(p.Calls, harness.Call{Op: opCount, Args: a, Thread: r.IntN(p.Threads + 1)})
		}
		out = append(out, p)
	}
	for _, k := range []kind{sequential, sequential, sequential, reader, concurrent, concurrent, unwatched, unwatched} {
		add(k)
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	// They run 3 at a time.
	sc := &harness.Scenario{Together: 3}
	for i, c := range harness.RandomComms(r, len(out)) {
		out[i].Comm = c
		sc.Procs = append(sc.Procs, out[i].Process)
	}
	return out, sc
}

// maxRounds bounds how often the scenario runs when the canary shows that
// no two increments ran at once. A round takes some 2 s under TCG; a host
// busy for a few seconds (a neighbour's build, a compile beside make
// test) costs rounds, not the grade.
const maxRounds = 6

func run(ctx context.Context, g *harness.G) {
	counts, hist, ok := shapes(g)
	if !ok {
		return
	}
	watched := g.Loaded.Coll.Maps["watched"]
	if watched == nil {
		g.Fail(checkShapes, "the object has no map watched", "include lab5.h: it defines watched, which the grader fills", "")
		return
	}
	if runtime.NumCPU() < g.Lab.CPUs {
		g.Fail("grader", fmt.Sprintf("this machine has %d CPU(s); the lab needs %d to run threads at once (bpflab gives its guest %d)", runtime.NumCPU(), g.Lab.CPUs, g.Lab.CPUs), "", "")
		return
	}
	// Files are made before the programs are attached.
	exists := filepath.Join(g.Dir, "file")
	if err := os.WriteFile(exists, []byte("x"), 0o644); err != nil {
		g.Fail("grader", err.Error(), "", "")
		return
	}
	can, err := newCanary()
	if err != nil {
		g.Fail("grader", err.Error(), "", "")
		return
	}
	defer can.close()
	launcher, err := g.Launcher()
	if err != nil {
		g.Fail("grader", "preparing the scenario: "+err.Error(), "", "")
		return
	}
	var (
		procs                 []*proc
		results               []*harness.ProcResult
		unproven, readsUnprov []string
		rounds, met           int
	)
	for rounds = 1; rounds <= maxRounds; rounds++ {
		if rounds > 1 {
			if err := reset(counts, hist, watched); err != nil {
				g.Fail("grader", "emptying the maps for another round: "+err.Error(), "", "")
				return
			}
		}
		restProcs, rest := scenario(g.Rand, exists)
		var attachErr error
		procs, results, met, attachErr, err = round(ctx, g, launcher, exists, restProcs, rest, watched, can)
		switch {
		case attachErr != nil:
			g.Fail("attach", attachErr.Error(), harness.AttachHint(attachErr), "")
			return
		case err != nil:
			g.Fail("grader", "running the scenario: "+err.Error(), "", "")
			return
		}
		lost, err := can.lost()
		if err != nil {
			g.Fail("grader", "reading the canary: "+err.Error(), "", "")
			return
		}
		// Each process whose threads open and read at once must show
		// increments of its own that met on two CPUs, for both calls;
		// and racersMet of the racing processes two threads that both
		// found no entry.
		unproven, readsUnprov = nil, nil
		for i, pr := range results {
			pid := uint32(pr.Pid)
			switch procs[i].kind {
			case concurrent:
				if lost[pid] < canaryLost {
					unproven = append(unproven, fmt.Sprintf("the grader's own non-atomic counter lost fewer than %d increments for process %d's opens (%d)", canaryLost, pr.Pid, lost[pid]))
				}
				if lost[readsKey(pid)] < canaryLost {
					readsUnprov = append(readsUnprov, fmt.Sprintf("the grader's own non-atomic counter lost fewer than %d increments for process %d's reads (%d)", canaryLost, pr.Pid, lost[readsKey(pid)]))
				}
			}
		}
		if met < racersMet {
			unproven = append(unproven, fmt.Sprintf("in only %d of the %d racing processes did two threads find no entry at once (the grader's own creation of an entry; it needs %d)", met, racers*maxRaceParts, racersMet))
		}
		if len(unproven)+len(readsUnprov) == 0 {
			break
		}
		// A count or a slot already wrong fails its check whatever the
		// canary says: another round cannot change that.
		countsWrong, histWrong, err := wrongAlready(procs, results, counts, hist)
		if err != nil {
			g.Fail("grader", "reading the maps: "+err.Error(), "", "")
			return
		}
		if (len(unproven) == 0 || countsWrong) && (len(readsUnprov) == 0 || histWrong) {
			break
		}
	}
	g.Pass("attach", fmt.Sprintf("kprobes on %s and %s", syscallSymbol("openat"), syscallSymbol("read")))
	gotCounts, err := readCounts(counts)
	if err != nil {
		g.Fail("grader", "reading the maps: "+err.Error(), "", "")
		return
	}
	gotHist, err := readHist(hist)
	if err != nil {
		g.Fail("grader", "reading the maps: "+err.Error(), "", "")
		return
	}
	why := func(unproven []string) string {
		if len(unproven) == 0 {
			return ""
		}
		return fmt.Sprintf("in %d rounds, %s: the guest's two vCPUs did not run at the same time (the host is busy), so a mistake that shows only when threads meet could not show; grade again on an idle machine", min(rounds, maxRounds), strings.Join(unproven, "; "))
	}
	if rounds > 1 && len(unproven)+len(readsUnprov) == 0 {
		g.Report.Notes = append(g.Report.Notes, fmt.Sprintf("graded on round %d: in the rounds before, the guest's vCPUs did not run at the same time", rounds))
	}
	judge(g, procs, results, gotCounts, int(counts.MaxEntries()), gotHist, why(unproven), why(readsUnprov))
}

// wrongAlready reports whether openat_counts already has a wrong count for
// a process whose threads opened at once, and read_sizes a wrong slot.
func wrongAlready(procs []*proc, results []*harness.ProcResult, counts, hist *ebpf.Map) (countsWrong, histWrong bool, err error) {
	got, err := readCounts(counts)
	if err != nil {
		return false, false, err
	}
	gotHist, err := readHist(hist)
	if err != nil {
		return false, false, err
	}
	wantHist := make([]uint64, HistSlots)
	for i, pr := range results {
		k := procs[i].kind
		if k == unwatched {
			continue
		}
		want := uint64(0)
		for _, c := range pr.Calls {
			a := c.Args.(CountArgs)
			want += uint64(a.Opens)
			if c.State != harness.Done {
				continue
			}
			for range max(a.Repeat, 1) {
				for _, n := range a.Sizes {
					wantHist[Slot(n)]++
				}
			}
		}
		if (k == concurrent || k == racing) && pr.Done() == len(pr.Calls) && got[uint32(pr.Pid)] != want {
			countsWrong = true
		}
	}
	for s := range wantHist {
		histWrong = histWrong || gotHist[s] != wantHist[s]
	}
	return countsWrong, histWrong, nil
}

// round runs one scenario: it starts the processes, puts the watched ones
// in watched, attaches the student's programs and the canary, and lets
// the processes make their calls, part after part: racing processes,
// racers at a time, until racersMet of them have shown two threads
// meeting (maxRaceParts parts at most; a part after the first is started
// while the programs are attached, before its processes are watched),
// then rest, whose processes are restProcs. It returns every process run,
// in order, their results, and how many racing processes met.
func round(ctx context.Context, g *harness.G, launcher *harness.Launcher, exists string, restProcs []*proc, rest *harness.Scenario, watched *ebpf.Map, can *canary) (procs []*proc, results []*harness.ProcResult, met int, attachErr, err error) {
	var parts []*harness.Started
	defer func() {
		for _, st := range parts {
			st.Kill()
		}
	}()
	start := func(sc *harness.Scenario, ps []*proc) (*harness.Started, error) {
		if err := launcher.Prepare(sc); err != nil {
			return nil, err
		}
		st, err := launcher.Start(ctx, sc)
		if st != nil {
			parts = append(parts, st)
		}
		if err != nil {
			return nil, err
		}
		var pids, racerPids []uint32
		for _, p := range ps {
			pid := uint32(st.Pid(p.Process))
			if p.kind != unwatched {
				if err := watched.Put(pid, uint8(1)); err != nil {
					return nil, fmt.Errorf("filling watched: %w", err)
				}
			}
			switch p.kind {
			case concurrent:
				pids = append(pids, pid)
			case racing:
				racerPids = append(racerPids, pid)
			}
		}
		if err := can.watch(pids, racerPids); err != nil {
			return nil, fmt.Errorf("the grader's canary: %w", err)
		}
		return st, nil
	}
	raceProcs, race := racePart(g.Rand, exists)
	raceSt, err := start(race, raceProcs)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	restSt, err := start(rest, restProcs)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	var links []link.Link
	defer func() {
		for _, l := range links {
			l.Close()
		}
		can.detach()
	}()
	for _, a := range []struct{ section, syscall string }{{openatSection, "openat"}, {readSection, "read"}} {
		sym := syscallSymbol(a.syscall)
		l, err := link.Kprobe(sym, g.Loaded.Prog[a.section], nil)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("kprobe on %s: %w", sym, err), nil
		}
		links = append(links, l)
	}
	if err := can.attach(syscallSymbol("openat"), syscallSymbol("read")); err != nil {
		return nil, nil, 0, nil, fmt.Errorf("the grader's canary: %w", err)
	}
	for part := 1; ; part++ {
		rs, err := raceSt.Go(ctx)
		procs, results = append(procs, raceProcs...), append(results, rs...)
		if err != nil {
			return procs, results, met, nil, err
		}
		for _, pr := range rs {
			n, err := can.found(uint32(pr.Pid))
			if err != nil {
				return procs, results, met, nil, fmt.Errorf("the grader's canary: %w", err)
			}
			if n >= 2 {
				met++
			}
		}
		if met >= racersMet || part == maxRaceParts {
			break
		}
		raceProcs, race = racePart(g.Rand, exists)
		if raceSt, err = start(race, raceProcs); err != nil {
			return procs, results, met, nil, err
		}
	}
	can.racersDone()
	rs, err := restSt.Go(ctx)
	return append(procs, restProcs...), append(results, rs...), met, nil, err
}

// reset empties the student's maps and watched between rounds.
func reset(counts, hist, watched *ebpf.Map) error {
	for _, m := range []*ebpf.Map{counts, watched} {
		var keys []uint32
		var next uint32
		var prev any // nil: the first key
		for {
			err := m.NextKey(prev, &next)
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				break
			}
			if err != nil {
				return err
			}
			keys = append(keys, next)
			k := next
			prev = &k
		}
		for _, k := range keys {
			if err := m.Delete(k); err != nil {
				return err
			}
		}
	}
	var zero any = uint64(0)
	if perCPU(hist.Type()) {
		n, err := ebpf.PossibleCPU()
		if err != nil {
			return err
		}
		zero = make([]uint64, n)
	}
	for k := uint32(0); k < HistSlots; k++ {
		if err := hist.Put(k, zero); err != nil {
			return err
		}
	}
	return nil
}

// syscallSymbol is the kernel function a ksyscall program attaches to.
func syscallSymbol(name string) string { return "__x64_sys_" + name }

// shapes checks the maps the grader reads.
func shapes(g *harness.G) (counts, hist *ebpf.Map, ok bool) {
	var bad []string
	counts, hist = g.Loaded.Coll.Maps["openat_counts"], g.Loaded.Coll.Maps["read_sizes"]
	switch {
	case counts == nil:
		bad = append(bad, "there is no map openat_counts")
	case !isHash(counts.Type()) || counts.KeySize() != 4 || counts.ValueSize() != 8:
		bad = append(bad, fmt.Sprintf("openat_counts is a %s with %d-byte keys and %d-byte values; want a hash (or per-CPU hash) of __u32 to __u64", counts.Type(), counts.KeySize(), counts.ValueSize()))
	}
	switch {
	case hist == nil:
		bad = append(bad, "there is no map read_sizes")
	case hist.Type() != ebpf.Array && hist.Type() != ebpf.PerCPUArray || hist.KeySize() != 4 || hist.ValueSize() != 8 || hist.MaxEntries() != HistSlots:
		bad = append(bad, fmt.Sprintf("read_sizes is a %s of %d entries with %d-byte keys and %d-byte values; want an array (or per-CPU array) of HIST_SLOTS (%d) __u64", hist.Type(), hist.MaxEntries(), hist.KeySize(), hist.ValueSize(), HistSlots))
	}
	if len(bad) > 0 {
		g.Fail(checkShapes, strings.Join(bad, "; "), "declare the maps as the starter file does: the grader reads them by name and shape", "")
		return nil, nil, false
	}
	g.Pass(checkShapes, fmt.Sprintf("openat_counts is a %s, read_sizes a %s", counts.Type(), hist.Type()))
	return counts, hist, true
}

func isHash(t ebpf.MapType) bool {
	return t == ebpf.Hash || t == ebpf.PerCPUHash || t == ebpf.LRUHash || t == ebpf.LRUCPUHash
}

func perCPU(t ebpf.MapType) bool {
	return t == ebpf.PerCPUHash || t == ebpf.LRUCPUHash || t == ebpf.PerCPUArray
}

// readCounts reads openat_counts, summing per-CPU values.
func readCounts(m *ebpf.Map) (map[uint32]uint64, error) {
	out := map[uint32]uint64{}
	var key uint32
	if perCPU(m.Type()) {
		var vals []uint64
		it := m.Iterate()
		for it.Next(&key, &vals) {
			for _, v := range vals {
				out[key] += v
			}
		}
		return out, it.Err()
	}
	var val uint64
	it := m.Iterate()
	for it.Next(&key, &val) {
		out[key] = val
	}
	return out, it.Err()
}

// readHist reads read_sizes, summing per-CPU values.
func readHist(m *ebpf.Map) ([]uint64, error) {
	out := make([]uint64, HistSlots)
	for k := uint32(0); k < HistSlots; k++ {
		if perCPU(m.Type()) {
			var vals []uint64
			if err := m.Lookup(k, &vals); err != nil {
				return nil, err
			}
			for _, v := range vals {
				out[k] += v
			}
			continue
		}
		if err := m.Lookup(k, &out[k]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// judge compares the maps with the calls the processes made; room is
// openat_counts' max_entries. unproven, when set, says why a concurrent
// check that found its counts exact cannot pass: the round never ran two
// increments at once.
func judge(g *harness.G, procs []*proc, results []*harness.ProcResult, counts map[uint32]uint64, room int, hist []uint64, unproven, readsUnproven string) {
	kindOf := map[*harness.ProcResult]kind{}
	whose := map[uint32]*harness.ProcResult{} // a pid or tid of the scenario
	var wantHist, unwatchedHist [HistSlots]uint64
	hot := map[int]bool{} // slots the threads of a concurrent process read at once
	var unharmed []string
	nWatched := 0       // processes in watched
	var negative uint64 // watched reads of 2^63 and more
	var zeros uint64    // watched reads of 0 bytes
	for i, pr := range results {
		k := procs[i].kind
		kindOf[pr] = k
		if k != unwatched {
			nWatched++
		}
		whose[uint32(pr.Pid)] = pr
		for _, t := range pr.Tids {
			whose[uint32(t)] = pr
		}
		if pr.Done() != len(pr.Calls) {
			unharmed = append(unharmed, fmt.Sprintf("process %d (%q) made %d of its %d calls%s", pr.Pid, pr.Comm, pr.Done(), len(pr.Calls), fate(pr)))
		}
		for _, c := range pr.Calls {
			if c.State != harness.Done {
				continue
			}
			a := c.Args.(CountArgs)
			if k == concurrent && c.Async {
				for _, n := range a.Sizes {
					hot[Slot(n)] = true
				}
			}
			for r := 0; r < max(a.Repeat, 1); r++ {
				for _, n := range a.Sizes {
					if k == unwatched {
						unwatchedHist[Slot(n)]++
						continue
					}
					wantHist[Slot(n)]++
					switch {
					case n >= 1<<63:
						negative++
					case n == 0:
						zeros++
					}
				}
			}
		}
	}

	// Counts, process by process: the racing processes are judged with
	// the concurrent ones (their threads open at once too).
	fails := map[kind][]string{}
	var tidKeys, strangers []string
	lostMany, lostFew, missing := false, false, false
	nJudged := map[kind]int{}
	for _, pr := range results {
		k := kindOf[pr]
		if k == unwatched || pr.Done() != len(pr.Calls) {
			continue
		}
		switch k {
		case racing:
			k = concurrent
		case reader:
			k = sequential
		}
		nJudged[k]++
		want := uint64(0)
		for _, c := range pr.Calls {
			want += uint64(c.Args.(CountArgs).Opens)
		}
		got, ok := counts[uint32(pr.Pid)]
		what := fmt.Sprintf("process %d (%q, %d threads%s)", pr.Pid, pr.Comm, len(pr.Tids), map[kind]string{sequential: ", one call at a time", concurrent: " opening at once", racing: " making their first opens at once", reader: ", reading only"}[kindOf[pr]])
		switch {
		case !ok && want == 0:
		case !ok:
			missing = true
			fails[k] = append(fails[k], fmt.Sprintf("%s: no entry openat_counts[%d]; want %d", what, pr.Pid, want))
		case got != want:
			diff := fmt.Sprintf("%d too many", got-want)
			if got < want {
				diff = fmt.Sprintf("%d lost", want-got)
				// Threads that both create a new entry lose the
				// counts made before the last creation: a few, in
				// the first microseconds; an increment that is not
				// atomic, many, all along.
				if k == concurrent && want-got <= fewLost {
					lostFew = true
				} else if k == concurrent {
					lostMany = true
				}
			}
			fails[k] = append(fails[k], fmt.Sprintf("%s: openat_counts[%d] = %d, want %d (%s)", what, pr.Pid, got, want, diff))
		}
	}
	keys := make([]uint32, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, key := range keys {
		pr, ours := whose[key]
		switch {
		case ours && key == uint32(pr.Pid) && kindOf[pr] != unwatched:
		case ours && kindOf[pr] != unwatched:
			tidKeys = append(tidKeys, fmt.Sprintf("openat_counts[%d] = %d: %d is a thread of process %d (%q)", key, counts[key], key, pr.Pid, pr.Comm))
		case ours:
			strangers = append(strangers, fmt.Sprintf("openat_counts[%d] = %d: process %d (%q) is not in watched", key, counts[key], pr.Pid, pr.Comm))
		default:
			strangers = append(strangers, fmt.Sprintf("openat_counts[%d] = %d: %d is no process the grader watches", key, counts[key], key))
		}
	}
	tidHint := "the key is a thread id: use the process id, the upper 32 bits of bpf_get_current_pid_tgid(), so every thread adds to its process's entry"
	var countHint func(k kind) string
	countHint = func(k kind) string {
		switch {
		case len(tidKeys) > 0:
			return tidHint
		case room < nWatched && (missing || len(fails[k]) > 0):
			return fmt.Sprintf("openat_counts has room for %d processes and the grader watched %d: once it is full, bpf_map_update_elem fails and a new process is not counted; give it room for every process in watched (max_entries as in the starter file)", room, nWatched)
		case k == concurrent && len(fails[sequential]) > 0:
			// Counts are wrong one call at a time too: not a race.
			return countHint(sequential)
		case k == concurrent && lostMany:
			return atomicHint
		case k == concurrent && lostFew:
			return createHint
		}
		return "count every openat of a watched process, from any thread, whatever its directory descriptor and flags, whether it succeeds or not, once; create the entry with bpf_map_update_elem(..., BPF_NOEXIST) the first time, then add to it"
	}
	for _, k := range []kind{sequential, concurrent} {
		name := map[kind]string{sequential: checkCounts, concurrent: checkConcurrent}[k]
		f := fails[k]
		switch {
		case len(f) == 0 && k == concurrent && unproven != "":
			g.Skip(name, "every count exact, but "+unproven)
			continue
		case len(f) == 0:
			g.Pass(name, fmt.Sprintf("%d process(es): every count exact", nJudged[k]))
			continue
		}
		detail := f[1:]
		if len(tidKeys) > 0 {
			detail = append(detail, tidKeys...)
		}
		g.Fail(name, fmt.Sprintf("%s [%d of %d processes wrong]", f[0], len(f), nJudged[k]), countHint(k), strings.Join(detail, "\n"))
	}

	// The histogram, slot by slot.
	var lost, extra, leaked []string
	for s := 0; s < HistSlots; s++ {
		got, want := hist[s], wantHist[s]
		switch {
		case got < want:
			lost = append(lost, fmt.Sprintf("slot %d: %d, want %d (%d lost)", s, got, want, want-got))
		case got > want && want == 0 && got == unwatchedHist[s]:
			// Exactly the reads of the processes that are not watched.
			leaked = append(leaked, fmt.Sprintf("slot %d: %d, want 0 (only processes that are not watched read sizes from %d to %d)", s, got, uint64(1)<<s, uint64(1)<<(s+1)-1))
		case got > want:
			extra = append(extra, fmt.Sprintf("slot %d: %d, want %d (%d too many)", s, got, want, got-want))
		}
	}
	// Reads lost only from slots that threads read at once: increments
	// that met.
	raced := len(lost) > 0
	for s := 0; s < HistSlots; s++ {
		if hist[s] < wantHist[s] && !hot[s] {
			raced = false
		}
	}
	if bad := append(lost, extra...); len(bad) > 0 {
		hint := "reads are missing from slots that no two threads read at once: count every read of a watched process once, whatever its byte count (0 too) and whether or not the process has opened anything, in read_sizes[size_slot(count)]"
		switch {
		case sum(hist[:]) == 0:
			hint = "no read reached read_sizes: in count_read, look up the slot size_slot(count) and add one to it"
		case sum(hist[:]) == sum(wantHist[:]):
			hint = "the reads are counted in the wrong slots: use size_slot(count) from lab5.h, with count the 64-bit size_t the call passed (its third argument)"
		case len(bad) == 1 && negative > 0 && hist[HistSlots-1]+negative == wantHist[HistSlots-1]:
			hint = "the reads of byte counts of 2^63 and more are missing: count is a size_t, unsigned; as a signed long (ssize_t) they are negative. read(2) fails with them, but it is entered, and they count in the last slot"
		case len(bad) == 1 && zeros > 0 && hist[0]+zeros == wantHist[0]:
			hint = "the reads of 0 bytes are missing: read(2) with a count of 0 is a call like any other, and size_slot(0) is slot 0"
		case raced && len(extra) == 0:
			hint = atomicHint
		case len(lost) == 0:
			hint = "the histogram has more reads than the watched processes made: count each read of a watched process once, and no other"
		}
		g.Fail(checkHist, fmt.Sprintf("%s [%d of %d slots wrong]", bad[0], len(bad), HistSlots), hint, histTable(hist, wantHist[:]))
	} else if readsUnproven != "" {
		g.Skip(checkHist, "every slot exact, but "+readsUnproven)
	} else {
		g.Pass(checkHist, fmt.Sprintf("%d reads, every slot exact", sum(wantHist[:])))
	}

	if len(strangers)+len(leaked) > 0 {
		all := append(strangers, leaked...)
		g.Fail(checkUnwatched, fmt.Sprintf("%s [%d found]", all[0], len(all)),
			"count only processes in watched: look the process id up in watched first, and return when it is not there",
			strings.Join(all[1:], "\n"))
	} else {
		g.Pass(checkUnwatched, "no count and no read from processes outside watched")
	}
	if len(unharmed) > 0 {
		g.Fail(checkUnharmed, unharmed[0], "your programs must count, not stop or kill the processes they watch", strings.Join(unharmed[1:], "\n"))
	} else {
		g.Pass(checkUnharmed, fmt.Sprintf("%d processes made all their calls", len(results)))
	}
}

// fewLost is the most counts a process whose threads opened at once may
// lose for the hint to blame the creation of its entry, not increments.
const fewLost = 50

const createHint = "a count or two lost when a process's threads made their first openat at once: both found no entry and both created it, one overwriting the other's count; create it with 0 and BPF_NOEXIST (exactly one creation wins), look it up again, and add to it atomically"

const atomicHint = "counts were lost while threads ran on two CPUs at once: `*v += 1` is a load, an add and a store, and two CPUs interleave them; add with __sync_fetch_and_add(v, 1), or use a per-CPU map (the grader sums its CPUs)"

func fate(pr *harness.ProcResult) string {
	switch {
	case pr.Stopped:
		return ": it was stopped (a stop signal)"
	case pr.Hung:
		return ": it hung"
	case pr.Signal != 0:
		return ": killed by " + pr.Signal.String()
	case pr.StartErr != nil:
		return ": " + pr.StartErr.Error()
	case pr.Code != 0:
		return fmt.Sprintf(": it exited with %d", pr.Code)
	}
	return ""
}

func sum(v []uint64) uint64 {
	var n uint64
	for _, x := range v {
		n += x
	}
	return n
}

func histTable(got, want []uint64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "slot  %-22s %10s %10s\n", "byte counts", "want", "got")
	for s := range got {
		if got[s] == 0 && want[s] == 0 {
			continue
		}
		lo, hi := uint64(1)<<s, uint64(1)<<(s+1)-1
		if s == 0 {
			lo = 0
		}
		r := fmt.Sprintf("%d-%d", lo, hi)
		if s == HistSlots-1 {
			r = fmt.Sprintf("%d and more", lo)
		}
		mark := ""
		if got[s] != want[s] {
			mark = "  <-"
		}
		fmt.Fprintf(&b, "%4d  %-22s %10d %10d%s\n", s, r, want[s], got[s], mark)
	}
	return b.String()
}
