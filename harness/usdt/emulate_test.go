package usdt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestArgumentsInProcess checks, without BPF, what a uprobe program would
// read: it runs the target under ptrace with a breakpoint on every probe
// site, where the addresses Attach would use put them, and at each stop
// reads the arguments as usdt.bpf.h's bpf_usdt_arg does, from the specs map
// value Attach would write and the registers the kernel would hand the
// program (struct user_regs_struct begins like struct pt_regs). The values
// must be those target.c passes.
func TestArgumentsInProcess(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			exe, _ := build(t, v)
			f, err := Open(exe)
			if err != nil {
				t.Fatal(err)
			}
			got := traceProbes(t, f)
			want := map[string][][]int64{
				"noargs":    {{}},
				"constants": {{1234, -5}},
				"sizes":     {{-1, 255, -2, 65535, -3, 4000000000, -4, 1 << 40}},
				"memory":    {{-3, 7}}, // and a pointer
				"inlined":   {{1}, {3}},
				"guarded":   {{1}},
			}
			if !v.optimized() {
				want["globals"] = [][]int64{{42, -7}}
			}
			if v.static {
				want["library"] = [][]int64{{1}}
			}
			if m := got["memory"]; len(m) == 1 && len(m[0]) == 3 {
				got["memory"][0] = m[0][:2]
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("arguments at each probe (-target.c +read):\n%s", diff)
			}
		})
	}
}

// traceProbes runs f's program to its end and returns, by probe name, the
// arguments read at each probe site hit, in the order of the hits. It
// raises the semaphores first, as the kernel does for an attached uprobe.
func traceProbes(t *testing.T, f *File) map[string][][]int64 {
	t.Helper()
	// The tracer is the thread that started the tracee.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command(f.Path())
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot trace the target: %v", err)
	}
	pid := cmd.Process.Pid
	defer cmd.Process.Kill()
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil || !ws.Stopped() {
		t.Fatalf("target did not stop at exec: %v %v", ws, err)
	}

	layout := usdt112
	sites := map[uint64]site{}
	for _, p := range f.Probes() {
		args, err := p.Arguments()
		if err != nil {
			continue // refused, so not attached
		}
		value, err := layout.encode(args, 0)
		if err != nil {
			t.Fatal(err)
		}
		addr, err := f.addressIn(pid, p.Offset)
		if err != nil {
			t.Fatal(err)
		}
		sites[addr] = site{probe: p, value: value, ip: addr}
		if _, err := unix.PtracePokeData(pid, uintptr(addr), []byte{0xcc}); err != nil {
			t.Fatalf("breakpoint at %s: %v", p, err)
		}
		if p.SemaphoreOffset != 0 {
			// Where the kernel finds it: in the writable mapping of the file
			// that covers the offset.
			maps, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
			if err != nil {
				t.Fatal(err)
			}
			sema, err := mappedAddress(maps, f.Path(), p.SemaphoreOffset, false)
			maps.Close()
			if err != nil {
				t.Fatalf("semaphore of %s: %v", p, err)
			}
			if _, err := unix.PtracePokeData(pid, uintptr(sema), []byte{1, 0}); err != nil {
				t.Fatalf("semaphore of %s: %v", p, err)
			}
		}
	}

	got := map[string][][]int64{}
	for {
		if err := unix.PtraceCont(pid, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
			t.Fatal(err)
		}
		if ws.Exited() {
			if ws.ExitStatus() != 0 {
				t.Errorf("target exited with %d", ws.ExitStatus())
			}
			return got
		}
		if !ws.Stopped() || ws.StopSignal() != unix.SIGTRAP {
			t.Fatalf("target stopped with %v", ws)
		}
		var regs unix.PtraceRegs
		if err := unix.PtraceGetRegs(pid, &regs); err != nil {
			t.Fatal(err)
		}
		s, ok := sites[regs.Rip-1]
		if !ok {
			t.Fatalf("trap at %#x, where no probe is", regs.Rip-1)
		}
		// pt_regs->ip is the probe's address for a uprobe program.
		regs.Rip--
		var raw bytes.Buffer
		binary.Write(&raw, binary.LittleEndian, &regs)
		got[s.probe.Name] = append(got[s.probe.Name], readArgs(t, pid, layout, s.value, raw.Bytes()))
		// Put the nop back and run it.
		if _, err := unix.PtracePokeData(pid, uintptr(regs.Rip), []byte{0x90}); err != nil {
			t.Fatal(err)
		}
		if err := unix.PtraceSetRegs(pid, &regs); err != nil {
			t.Fatal(err)
		}
	}
}

// readArgs does what bpf_usdt_arg does for every argument of the spec in
// value, with ctx the bytes of struct pt_regs.
func readArgs(t *testing.T, pid int, l layout, value, ctx []byte) []int64 {
	t.Helper()
	get := func(b []byte, f field) uint64 {
		var le [8]byte
		copy(le[:], b[f.off:f.off+f.size])
		return binary.LittleEndian.Uint64(le[:])
	}
	args := []int64{}
	for i := 0; i < int(get(value, l.argCnt)); i++ {
		spec := value[l.args+i*l.stride:]
		var val uint64
		switch kind := get(spec, l.argType); kind {
		case l.kinds[ArgConst]:
			val = get(spec, l.valOff)
		case l.kinds[ArgReg], l.kinds[ArgRegDeref]:
			val = binary.LittleEndian.Uint64(ctx[int16(get(spec, l.regOff)):])
			if kind == l.kinds[ArgRegDeref] {
				mem := make([]byte, 8)
				if _, err := unix.PtracePeekData(pid, uintptr(val+get(spec, l.valOff)), mem); err != nil {
					t.Fatal(errors.Join(errors.New("reading the argument"), err))
				}
				val = binary.LittleEndian.Uint64(mem)
			}
		default:
			t.Fatalf("argument type %d", kind)
		}
		shift := get(spec, l.argBitshift)
		val <<= shift
		if get(spec, l.argSigned) != 0 {
			val = uint64(int64(val) >> shift)
		} else {
			val >>= shift
		}
		args = append(args, int64(val))
	}
	return args
}
