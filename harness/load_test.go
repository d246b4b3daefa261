package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
)

// Verifier logs of rejected programs, as 5.10 and 6.12 print them
// (testdata/verifier). Every one reserves a ring buffer record, so
// ringbuf_mem_or_null is in each, but it is the cause in one only.
func TestVerifierHintMatchesTheCause(t *testing.T) {
	for _, tc := range []struct {
		file, want, notWant string
	}{
		{"reserve-then-unbounded-loop.6.12.log", "a loop the verifier cannot bound", "NULL"},
		{"reserve-then-stack-out-of-bounds.6.12.log", "not bounded where the verifier can see it", "NULL"},
		{"infinite-loop-state-dump.6.12.log", "a loop the verifier cannot bound", "NULL"},
		{"reserve-then-back-edge.5.10.log", "a loop the verifier cannot bound", "NULL"},
		{"unreleased-record.6.12.log", "bpf_ringbuf_discard", "NULL"},
		{"unchecked-reserve.6.12.log", "may be NULL", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "verifier", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			log := string(b)
			if !strings.Contains(log, "ringbuf_mem_or_null") {
				t.Fatal("the fixture does not reserve a record")
			}
			got := VerifierHint(log)
			if !strings.Contains(got, tc.want) || tc.notWant != "" && strings.Contains(got, tc.notWant) {
				t.Errorf("hint %q, want one about %q", got, tc.want)
			}
			// The check built from a VerifierError says the same.
			c := verifierCheck(&ebpf.VerifierError{Log: strings.Split(strings.TrimRight(log, "\n"), "\n")}, LoadOptions{})
			if c.Name != "verifier" || c.Hint != got {
				t.Errorf("check %s has hint %q, want %q", c.Name, c.Hint, got)
			}
			if strings.HasPrefix(c.Reason, "the verifier rejected the program: processed") {
				t.Errorf("reason is the summary line: %s", c.Reason)
			}
		})
	}
}

func TestRejectionCause(t *testing.T) {
	for _, tc := range []struct {
		name string
		log  []string
		want []string
	}{
		{"one line", []string{"back-edge from insn 10 to 5"}, []string{"back-edge from insn 10 to 5"}},
		{"after the last instruction", []string{
			"12: (85) call bpf_ringbuf_reserve#131 ; R0_w=ringbuf_mem_or_null(id=2,ref_obj_id=2,sz=24)",
			"13: (95) exit",
			"Unreleased reference id=2 alloc_insn=12",
			"processed 14 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 1",
		}, []string{"Unreleased reference id=2 alloc_insn=12"}},
		{"state dumps left out", []string{
			"5: (05) goto pc-1",
			"infinite loop detected at insn 5",
			"cur state: R0=ringbuf_mem_or_null(id=2)",
			"old state: R0=ringbuf_mem_or_null(id=2)",
		}, []string{"infinite loop detected at insn 5"}},
		{"no instructions: the last lines", []string{"a", "b", "c", "d", "e", "f", "g", "verification time 5 usec"},
			[]string{"c", "d", "e", "f", "g"}},
		{"empty", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rejectionCause(tc.log)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("cause %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVerifierLogCap(t *testing.T) {
	var log []string
	for i := 0; i < 1000; i++ {
		log = append(log, fmt.Sprintf("%d: (07) r8 += 1                      ; R8_w=%d", i, i))
	}
	log = append(log, "BPF program is too large. Processed 1000001 insn",
		"processed 1000001 insns (limit 1000000) max_states_per_insn 4 total_states 11258 peak_states 11258 mark_read 2")
	err := &ebpf.VerifierError{Log: log}

	c := verifierCheck(err, LoadOptions{})
	lines := strings.Split(c.Detail, "\n")
	if len(lines) != MaxVerifierLogLines+1 {
		t.Fatalf("detail has %d lines, want %d and a note", len(lines), MaxVerifierLogLines+1)
	}
	left := len(log) - MaxVerifierLogLines
	if want := fmt.Sprintf("(%d earlier lines", left); !strings.HasPrefix(lines[0], want) || !strings.Contains(lines[0], "-v") {
		t.Errorf("first line %q, want it to say %d lines were left out and that -v shows them", lines[0], left)
	}
	if strings.Join(lines[1:], "\n") != strings.Join(log[left:], "\n") {
		t.Error("the detail is not the log's tail")
	}
	if !strings.Contains(c.Hint, "loop") {
		t.Errorf("hint %q, want the loop hint", c.Hint)
	}

	full := verifierCheck(err, LoadOptions{FullLog: true})
	if full.Detail != strings.Join(log, "\n") {
		t.Errorf("FullLog: detail has %d lines, want the whole log of %d", strings.Count(full.Detail, "\n")+1, len(log))
	}

	short := verifierCheck(&ebpf.VerifierError{Log: log[len(log)-10:]}, LoadOptions{})
	if short.Detail != strings.Join(log[len(log)-10:], "\n") {
		t.Errorf("a short log was changed:\n%s", short.Detail)
	}
}

func TestMapFailureIsItsOwnCheck(t *testing.T) {
	spec := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{
		"events": {Name: "events", Type: ebpf.RingBuf, MaxEntries: 256 << 20},
		"odd":    {Name: "odd", Type: ebpf.RingBuf, MaxEntries: 300000},
		"counts": {Name: "counts", Type: ebpf.Hash, KeySize: 4, ValueSize: 1 << 16, MaxEntries: 1 << 20},
	}}
	for _, tc := range []struct {
		name   string
		err    error
		reason []string
		hint   []string
	}{
		{"ring buffer too large", fmt.Errorf("map events: map create: %w", syscall.ENOMEM),
			[]string{"map events (RingBuf, max_entries 268435456)", "cannot allocate memory"},
			[]string{"power of two multiple of the page size", "--memory"}},
		{"ring buffer size not a power of two", fmt.Errorf("map odd: map create: %w", syscall.EINVAL),
			[]string{"map odd (RingBuf, max_entries 300000)"},
			[]string{"must be a power of two multiple of the page size", "300000 is not"}},
		{"hash too large", fmt.Errorf("map counts: map create: %w", syscall.ENOMEM),
			[]string{"map counts (Hash, max_entries 1048576)"},
			[]string{"max_entries", "--memory"}},
		{"data section", fmt.Errorf("finalizing map .rodata: %w", syscall.EPERM),
			[]string{"map .rodata"}, []string{"root"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := mapCheck(spec, tc.err)
			if !ok {
				t.Fatalf("%v was not taken for a map failure", tc.err)
			}
			if c.Name != "maps" || c.Status != Fail {
				t.Errorf("check %s %s, want maps FAIL", c.Name, c.Status)
			}
			for _, w := range tc.reason {
				if !strings.Contains(c.Reason, w) {
					t.Errorf("reason %q lacks %q", c.Reason, w)
				}
			}
			for _, w := range tc.hint {
				if !strings.Contains(c.Hint, w) {
					t.Errorf("hint %q lacks %q", c.Hint, w)
				}
			}
		})
	}
	for _, err := range []error{
		&ebpf.VerifierError{Log: []string{"R0 invalid mem access 'scalar'"}},
		fmt.Errorf("program on_openat: load program: %w", &ebpf.VerifierError{Log: []string{"x"}}),
		fmt.Errorf("program on_openat: map events: %w", errors.New("bad fd")),
	} {
		if c, ok := mapCheck(spec, err); ok {
			t.Errorf("%v taken for a map failure: %+v", err, c)
		}
	}
}

// TestVerifierHintReturnRange: an LSM program whose return value the
// verifier cannot bound gets a hint about returning constants.
func TestVerifierHintReturnRange(t *testing.T) {
	log := "53: (87) r0 = -r0                     ; R0_w=scalar()\n54: (95) exit\nAt program exit the register R0 has unknown scalar value should have been in [-4095, 0]\nprocessed 55 insns (limit 1000000)"
	if h := VerifierHint(log); !strings.Contains(h, "barrier_var") {
		t.Errorf("hint %q, want one about returning constants", h)
	}
}

// TestTwoProgramsOnOneHook: two programs in a section the lab grades fail
// the section check (the grader would attach one of them, chosen at
// random); two with a wanted prefix are fine.
func TestTwoProgramsOnOneHook(t *testing.T) {
	read := func(progs map[string]string) func(string) (*ebpf.CollectionSpec, error) {
		return func(string) (*ebpf.CollectionSpec, error) {
			spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{}}
			for name, sec := range progs {
				spec.Programs[name] = &ebpf.ProgramSpec{Name: name, SectionName: sec, License: "GPL"}
			}
			return spec, nil
		}
	}
	wants := []ProgramWant{{Sections: []string{"tracepoint/syscalls/sys_enter_openat", "tp/syscalls/sys_enter_openat"}}}
	_, _, checks := loadSpec("x.o", wants, read(map[string]string{
		"right": "tracepoint/syscalls/sys_enter_openat", "kill_all": "tp/syscalls/sys_enter_openat"}))
	last := checks[len(checks)-1]
	if last.Name != "section" || last.Status != Fail || !strings.Contains(last.Reason, "kill_all") || !strings.Contains(last.Reason, "right") {
		t.Errorf("two programs on the hook: %+v", last)
	}
	_, chosen, checks := loadSpec("x.o", wants, read(map[string]string{
		"right": "tracepoint/syscalls/sys_enter_openat", "helper": "tracepoint/syscalls/sys_enter_close"}))
	if last := checks[len(checks)-1]; last.Status != Pass || chosen["tracepoint/syscalls/sys_enter_openat"] != "right" {
		t.Errorf("one program on the hook: %+v, chosen %v", last, chosen)
	}
}

type hintedErr struct{}

func (hintedErr) Error() string { return "the object has no variable x" }
func (hintedErr) Hint() string  { return "declare x" }

// TestReadObjectHint: a lab's ReadObject error with a hint of its own
// fails "object" with it, not with the hint about empty files.
func TestReadObjectHint(t *testing.T) {
	read := func(string) (*ebpf.CollectionSpec, error) { return nil, fmt.Errorf("wrapped: %w", hintedErr{}) }
	_, _, checks := loadSpec("x.o", nil, read)
	if len(checks) != 1 || checks[0].Name != "object" || checks[0].Status != Fail || checks[0].Hint != "declare x" ||
		checks[0].Reason != "wrapped: the object has no variable x" {
		t.Fatalf("checks = %+v", checks)
	}
}
