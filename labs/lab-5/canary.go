package lab5

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// A canary is the grader's own counter, attached with the student's
// programs: each openat adds one to it twice, once with a plain load, add
// and store, once atomically. The plain count falls behind only when two
// CPUs ran the increment at the same moment, which is what the concurrent
// checks need: a machine whose vCPUs take turns on one host core (another
// guest, a build) cannot make a non-atomic increment lose anything, and a
// round in which the canary lost nothing proves nothing about atomicity.
type canary struct {
	m     *ebpf.Map
	prog  *ebpf.Program
	links []link.Link
}

// canaryLost is how many plain increments the canary must have lost in a
// round for the round to show that increments ran on two CPUs at once.
const canaryLost = 10

func newCanary() (*canary, error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 16, MaxEntries: 1})
	if err != nil {
		return nil, err
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.Kprobe,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.StoreImm(asm.R10, -4, 0, asm.Word),
			asm.LoadMapPtr(asm.R1, m.FD()),
			asm.Mov.Reg(asm.R2, asm.R10),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
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
		},
	})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("loading the grader's canary: %w", err)
	}
	return &canary{m: m, prog: prog}, nil
}

// attach puts the canary on the kernel function sym.
func (c *canary) attach(sym string) error {
	l, err := link.Kprobe(sym, c.prog, nil)
	if err != nil {
		return err
	}
	c.links = append(c.links, l)
	return nil
}

func (c *canary) detach() {
	for _, l := range c.links {
		l.Close()
	}
	c.links = nil
}

// lost is how many plain increments fell behind the atomic ones since the
// last reset, which it does.
func (c *canary) lost() (uint64, error) {
	var v [2]uint64
	if err := c.m.Lookup(uint32(0), &v); err != nil {
		return 0, err
	}
	if err := c.m.Put(uint32(0), [2]uint64{}); err != nil {
		return 0, err
	}
	return v[1] - v[0], nil
}

func (c *canary) close() {
	c.detach()
	c.prog.Close()
	c.m.Close()
}
