package harness

import (
	"bytes"
	"errors"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/ringbuf"
)

// A ring buffer the kernel has just made is all zeroes, and a scenario
// writes far less than it holds: a program that reserves a record and
// leaves a field unset sends a zero there, which is often what the grader
// expects (a return value of an entry event, an unused count). On a
// student's machine, where the buffer has gone round, the same field holds
// bytes of an older record. So before a scenario the grader fills the
// whole buffer once with records of its own, every byte poisonByte, and
// reads them back: each record a program writes afterwards lands on that
// poison, and a field the program does not set reads as 0xaa bytes.

// poisonByte is every byte of the grader's own records.
const poisonByte = 0xaa

// poisonSize is the size of each of the grader's records for a ring
// buffer of size bytes: a record and its 8-byte header take a whole
// number of 8-byte words, so the records tile the buffer.
func poisonSize(size uint32) uint32 {
	return max(min(size/4, 2048), 16) - 8
}

// isPoison says whether a record is one of the grader's own of size p.
func isPoison(rec []byte, p uint32) bool {
	return uint32(len(rec)) == p && bytes.Count(rec, []byte{poisonByte}) == len(rec)
}

// poisonWait bounds the wait for the grader's records to come back.
const poisonWait = 5 * time.Second

// poison fills ring buffer m with the grader's records, twice half of it,
// reading each half back with rd before writing the next: together they
// cover every byte of the buffer, wherever its producer stood. Records
// that are not the grader's (a program already attached) go to keep.
func poison(m *ebpf.Map, rd *ringbuf.Reader, keep func([]byte)) error {
	size := m.MaxEntries()
	p := poisonSize(size)
	src, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: p, MaxEntries: 1})
	if err != nil {
		return err
	}
	defer src.Close()
	if err := src.Put(uint32(0), bytes.Repeat([]byte{poisonByte}, int(p))); err != nil {
		return err
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.SocketFilter,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.StoreImm(asm.R10, -4, 0, asm.Word),
			asm.LoadMapPtr(asm.R1, src.FD()),
			asm.Mov.Reg(asm.R2, asm.R10),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.LoadMapPtr(asm.R1, m.FD()),
			asm.Mov.Reg(asm.R2, asm.R0),
			asm.Mov.Imm(asm.R3, int32(p)),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnRingbufOutput.Call(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
			asm.Return(),
		},
	})
	if err != nil {
		return err
	}
	defer prog.Close()
	half := size / 2 / (p + 8)
	var rec ringbuf.Record
	defer rd.SetDeadline(time.Time{})
	for range 2 {
		// A socket filter's test run needs an Ethernet header's worth of
		// data; each of its runs writes one record.
		if _, err := prog.Run(&ebpf.RunOptions{Data: make([]byte, 14), Repeat: half}); err != nil {
			return err
		}
		rd.SetDeadline(time.Now().Add(poisonWait))
		for seen := uint32(0); seen < half; {
			if err := rd.ReadInto(&rec); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					// Some did not fit (a program's records took the room):
					// what was written is read.
					break
				}
				return err
			}
			if isPoison(rec.RawSample, p) {
				seen++
				continue
			}
			keep(rec.RawSample)
		}
	}
	return nil
}

// Unset says whether the low size bytes of v are the grader's filler:
// a field of a record the program reserved and never set.
func Unset(v uint64, size int) bool {
	for i := range size {
		if byte(v>>(8*i)) != poisonByte {
			return false
		}
	}
	return size > 0
}

// UnsetHint is the advice for a field that reads as the grader's filler.
const UnsetHint = "this field reads 0xaa in every byte, what the grader fills the ring buffer with before the scenario: your program reserved the record but did not set the field (set every field the event kind uses, or zero the record after bpf_ringbuf_reserve); on your own machine it would read an older record's bytes"
