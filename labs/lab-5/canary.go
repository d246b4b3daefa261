package lab5

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// A canary is the grader's own counter, attached with the student's
// programs: on each call it adds one to a counter twice, once with a
// plain load, add and store, once atomically. The plain count falls behind
// only when two CPUs ran the increment at the same moment, which is what
// the concurrent checks need: a machine whose vCPUs take turns on one host
// core (another guest, a build) cannot make a non-atomic increment lose
// anything, and a round in which the canary lost nothing proves nothing
// about atomicity.
//
// It counts openat and read per process: the processes whose threads
// open and read at once are its keys (a pid for the opens, the pid with
// readsBit for the reads), put in before attaching. Per process, because
// what the checks need is that one process's threads met: increments of
// other processes (or of the grader) meeting prove nothing about them.
//
// For the racing processes, whose threads make only their first openat
// calls at once, it mimics the creation of an entry instead (firsts): a
// flag per process, read with a plain load and, when it is not set yet,
// set with a plain store a map lookup later, as a program that creates its
// entry on a miss does, without a lock (a lock would make the threads take
// turns before the student's program runs). Each thread that found the
// flag unset adds one atomically: two or more are two threads of the
// process that both found "no entry", which is what the creation of an
// entry must survive.
type canary struct {
	m      *ebpf.Map
	opens  *ebpf.Program
	reads  *ebpf.Program
	firsts *ebpf.Program
	links  []link.Link
	first  link.Link       // firsts' link, closed once the racers are done
	counts map[uint32]bool // the keys put in
}

// canaryLost is how many plain increments a canary key must have lost in
// a round for the round to show that increments ran on two CPUs at once.
const canaryLost = 10

// readsBit marks a canary key that counts a process's reads (pids are
// below 1<<22).
const readsBit = 1 << 31

// readsKey is the canary's key for the reads of process pid.
func readsKey(pid uint32) uint32 { return pid | readsBit }

// racerBit marks a canary key that mimics the creation of a racing
// process's entry.
const racerBit = 1 << 30

// racerKey is the canary's key for the first opens of racing process pid.
func racerKey(pid uint32) uint32 { return pid | racerBit }

func newCanary() (*canary, error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 16, MaxEntries: 128})
	if err != nil {
		return nil, err
	}
	// lookup looks up the calling process's id, with bit, in m: R0 is
	// the value (or the program returns).
	lookup := func(bit uint32) asm.Instructions {
		return asm.Instructions{
			asm.FnGetCurrentPidTgid.Call(),
			asm.RSh.Imm(asm.R0, 32),
			asm.Mov.Imm32(asm.R1, int32(bit)),
			asm.Or.Reg32(asm.R0, asm.R1),
			asm.StoreMem(asm.R10, -4, asm.R0, asm.Word),
			asm.LoadMapPtr(asm.R1, m.FD()),
			asm.Mov.Reg(asm.R2, asm.R10),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
		}
	}
	// key: the calling process's id, with bit (0 or readsBit).
	program := func(bit uint32) (*ebpf.Program, error) {
		insns := append(lookup(bit),
			// value[0] += 1, not atomic
			asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
			asm.Add.Imm(asm.R1, 1),
			asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
			// value[1] += 1, atomic
			asm.Mov.Imm(asm.R1, 1),
			asm.Add.Imm(asm.R0, 8),
			asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
			asm.Return(),
		)
		return ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.Kprobe, License: "GPL", Instructions: insns})
	}
	// value[0]: the flag "created" (plain load and store); value[1]: the
	// threads that found it unset (atomic).
	firsts := append(lookup(racerBit),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.JNE.Imm(asm.R1, 0, "out"),
		asm.Mov.Reg(asm.R6, asm.R0),
		// the time a program takes from its miss to its creation
		asm.LoadMapPtr(asm.R1, m.FD()),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreMem(asm.R6, 0, asm.R1, asm.DWord),
		asm.Add.Imm(asm.R6, 8),
		asm.StoreXAdd(asm.R6, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
	c := &canary{m: m, counts: map[uint32]bool{}}
	if c.opens, err = program(0); err == nil {
		if c.reads, err = program(readsBit); err == nil {
			c.firsts, err = ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.Kprobe, License: "GPL", Instructions: firsts})
		}
	}
	if err != nil {
		c.close()
		return nil, fmt.Errorf("loading the grader's canary: %w", err)
	}
	return c, nil
}

// watch makes the canary count the opens and the reads of processes pids,
// and the threads of racers that find no entry.
func (c *canary) watch(pids, racers []uint32) error {
	var keys []uint32
	for _, pid := range pids {
		keys = append(keys, pid, readsKey(pid))
	}
	for _, pid := range racers {
		keys = append(keys, racerKey(pid))
	}
	for _, k := range keys {
		if err := c.m.Put(k, [2]uint64{}); err != nil {
			return err
		}
		c.counts[k] = true
	}
	return nil
}

// attach puts the canary on the kernel's openat and read entries.
func (c *canary) attach(openat, read string) error {
	for _, a := range []struct {
		sym  string
		prog *ebpf.Program
	}{{openat, c.opens}, {read, c.reads}, {openat, c.firsts}} {
		l, err := link.Kprobe(a.sym, a.prog, nil)
		if err != nil {
			return err
		}
		c.links = append(c.links, l)
	}
	c.first = c.links[len(c.links)-1]
	c.links = c.links[:len(c.links)-1]
	return nil
}

// racersDone detaches firsts: the calls after the racers' run faster
// without it.
func (c *canary) racersDone() {
	if c.first != nil {
		c.first.Close()
		c.first = nil
	}
}

// found returns how many threads of racing process pid found the
// canary's entry unset.
func (c *canary) found(pid uint32) (uint64, error) {
	var v [2]uint64
	err := c.m.Lookup(racerKey(pid), &v)
	return v[1], err
}

func (c *canary) detach() {
	c.racersDone()
	for _, l := range c.links {
		l.Close()
	}
	c.links = nil
}

// lost returns how many plain increments fell behind the atomic ones, by
// key (for a racer's key: how many of its threads found no entry), and
// forgets the keys.
func (c *canary) lost() (map[uint32]uint64, error) {
	out := map[uint32]uint64{}
	for k := range c.counts {
		var v [2]uint64
		if err := c.m.Lookup(k, &v); err != nil {
			return nil, err
		}
		out[k] = v[1] - v[0]
		if k&racerBit != 0 {
			out[k] = v[1]
		}
		if err := c.m.Delete(k); err != nil {
			return nil, err
		}
	}
	c.counts = map[uint32]bool{}
	return out, nil
}

func (c *canary) close() {
	c.detach()
	for _, p := range []*ebpf.Program{c.opens, c.reads, c.firsts} {
		if p != nil {
			p.Close()
		}
	}
	c.m.Close()
}
