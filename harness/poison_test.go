package harness

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
)

func TestPoisonSize(t *testing.T) {
	for size, want := range map[uint32]uint32{4096: 1016, 8192: 2040, 256 << 10: 2040, 16: 8} {
		if got := poisonSize(size); got != want {
			t.Errorf("poisonSize(%d) = %d, want %d", size, got, want)
		}
	}
}

// TestPoisonCoversTheBuffer fills a ring buffer on this host's kernel: every
// record the grader wrote comes back, and nothing else.
func TestPoisonCoversTheBuffer(t *testing.T) {
	_ = rlimit.RemoveMemlock()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: 16 << 10})
	if err != nil {
		t.Skipf("this host cannot make a ring buffer: %v", err)
	}
	defer m.Close()
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var kept [][]byte
	if err := poison(m, rd, func(b []byte) { kept = append(kept, bytes.Clone(b)) }); err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			t.Skipf("this host cannot run the grader's program: %v", err)
		}
		t.Fatal(err)
	}
	if len(kept) != 0 {
		t.Errorf("kept %d records of the grader's own", len(kept))
	}
	if rd.AvailableBytes() != 0 {
		t.Errorf("%d bytes left unread", rd.AvailableBytes())
	}
	// A program that reserves records and writes nothing in them: the
	// grader reads poison, wherever in the buffer they land (a record may
	// cover the 8-byte header of one of the grader's).
	blank, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.SocketFilter,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.LoadMapPtr(asm.R1, m.FD()),
			asm.Mov.Imm(asm.R2, 40),
			asm.Mov.Imm(asm.R3, 0),
			asm.FnRingbufReserve.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.Mov.Reg(asm.R1, asm.R0),
			asm.Mov.Imm(asm.R2, 0),
			asm.FnRingbufSubmit.Call(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
			asm.Return(),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer blank.Close()
	// 40 bytes and a header: 48 a record, 340 of them go round 16 KiB.
	for range 4 {
		if _, err := blank.Run(&ebpf.RunOptions{Data: make([]byte, 14), Repeat: 85}); err != nil {
			t.Fatal(err)
		}
		for range 85 {
			rec, err := rd.Read()
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(rec.RawSample, []byte{poisonByte}); n < len(rec.RawSample)-8 {
				t.Fatalf("a blank record reads %x: not the grader's poison", rec.RawSample)
			}
		}
	}
}

func TestUnset(t *testing.T) {
	for _, c := range []struct {
		v    uint64
		size int
		want bool
	}{
		{0xaaaaaaaaaaaaaaaa, 8, true}, {0xaaaaaaaa, 4, true}, {0x11aaaaaaaa, 4, true},
		{0xaaaaaaaa, 8, false}, {0, 4, false}, {0xaaaa00aa, 4, false}, {0xaa, 0, false},
	} {
		if got := Unset(c.v, c.size); got != c.want {
			t.Errorf("Unset(%#x, %d) = %v, want %v", c.v, c.size, got, c.want)
		}
	}
}

// BenchmarkPoison fills and reads back a 256 KiB ring buffer, the size the
// labs' ring buffers have: what each scenario round pays for it.
func BenchmarkPoison(b *testing.B) {
	_ = rlimit.RemoveMemlock()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: 256 << 10})
	if err != nil {
		b.Skipf("this host cannot make a ring buffer: %v", err)
	}
	defer m.Close()
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	for b.Loop() {
		if err := poison(m, rd, func([]byte) {}); err != nil {
			b.Fatal(err)
		}
	}
}
