// Package lab2 grades lab 2: a kprobe and a kretprobe on the kernel
// function that deletes files (do_unlinkat, renamed filename_unlinkat in
// 7.x kernels) that report each deletion and its result.
//
// Students write only the C file; this package is the loader and grader.
// The loader attaches to whichever of the two functions the running kernel
// has and says which one it chose.
package lab2

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bpflab/bpflab/harness"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/google/go-cmp/cmp"
)

const (
	entrySection  = "kprobe/do_unlinkat"
	returnSection = "kretprobe/do_unlinkat"
)

// Lab is lab 2.
var Lab = &harness.Lab{
	ID:       "lab-2",
	Title:    "A kprobe on do_unlinkat reports deleted files, on kernels that renamed it",
	Dir:      "labs/lab-2",
	Source:   "unlink.bpf.c",
	Solution: "solution/unlink.bpf.c",
	Wants: []harness.ProgramWant{
		{Sections: []string{entrySection, "kprobe/filename_unlinkat"}},
		{Sections: []string{returnSection, "kretprobe/filename_unlinkat"}},
	},
	Run: run,
}

// Symbols are the names of the function that deletes a file, newest last:
// 7.x kernels moved the work of do_unlinkat into filename_unlinkat, whose
// first two arguments are the same (int dfd, struct filename *name).
var Symbols = []string{"do_unlinkat", "filename_unlinkat"}

// FindSymbol returns the first of names that the kernel's symbol table
// (kallsyms, in the format of /proc/kallsyms) lists.
func FindSymbol(kallsyms []byte, names []string) (string, error) {
	have := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(kallsyms))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 {
			have[f[2]] = true
		}
	}
	for _, n := range names {
		if have[n] {
			return n, nil
		}
	}
	return "", fmt.Errorf("none of %s is in the kernel's symbol table", strings.Join(names, ", "))
}

// Event kinds, as in lab2.h.
const (
	kindEntry  = 1
	kindReturn = 2
)

// Event is struct event of lab2.h, decoded.
type Event struct {
	Pid  uint32
	Kind uint32
	Ret  int64
	Comm string
	Path string
}

const eventSize = 4 + 4 + 8 + 16 + 256

func decode(rec []byte) (Event, error) {
	if len(rec) < eventSize {
		return Event{}, fmt.Errorf("a record of %d bytes, want %d (struct event of lab2.h)", len(rec), eventSize)
	}
	return Event{
		Pid:  binary.LittleEndian.Uint32(rec[0:4]),
		Kind: binary.LittleEndian.Uint32(rec[4:8]),
		Ret:  int64(binary.LittleEndian.Uint64(rec[8:16])),
		Comm: harness.CString(rec[16:32]),
		Path: harness.CString(rec[32:eventSize]),
	}, nil
}

func run(ctx context.Context, g *harness.G) {
	m := g.Loaded.Coll.Maps["events"]
	if m == nil || m.Type() != ebpf.RingBuf {
		g.Fail("events-map", "no ring buffer map named events", "keep the events map of the starter file: the grader reads it", "")
		return
	}
	g.Pass("events-map", "ring buffer map events")

	kallsyms, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		g.Fail("attach", "reading /proc/kallsyms: "+err.Error(), "", "")
		return
	}
	sym, err := FindSymbol(kallsyms, Symbols)
	if err != nil {
		g.Fail("attach", err.Error(), "", "")
		return
	}
	if !HasKprobes(kallsyms) {
		reason := "this kernel has no kprobes (CONFIG_KPROBES is off: no register_kprobe in /proc/kallsyms); grade in a VM, without --kernel host"
		for _, c := range []string{"attach", "unlink-reported", "unlinkat-relative", "return-success", "return-enoent", "rmdir-not-reported", "other-ops-silent"} {
			g.Skip(c, reason)
		}
		return
	}
	entry, err := link.Kprobe(sym, g.Loaded.Prog[entrySection], nil)
	if err != nil {
		g.Fail("attach", fmt.Sprintf("kprobe on %s: %v", sym, err), harness.AttachHint(err), "")
		return
	}
	defer entry.Close()
	ret, err := link.Kretprobe(sym, g.Loaded.Prog[returnSection], nil)
	if err != nil {
		g.Fail("attach", fmt.Sprintf("kretprobe on %s: %v", sym, err), harness.AttachHint(err), "")
		return
	}
	defer ret.Close()
	g.Report.Attached = sym
	why := ""
	if sym != Symbols[0] {
		why = fmt.Sprintf(" (%s is not in /proc/kallsyms on this kernel: it was renamed)", Symbols[0])
	}
	g.Pass("attach", fmt.Sprintf("kprobe and kretprobe attached to %s%s", sym, why))

	evs, err := harness.OpenEvents(m)
	if err != nil {
		g.Fail("events-map", "reading the ring buffer: "+err.Error(), "", "")
		return
	}
	defer evs.Close()
	dir, err := os.MkdirTemp("", "lab2-")
	if err != nil {
		g.Fail("unlink-reported", err.Error(), "", "")
		return
	}
	defer os.RemoveAll(dir)
	c := &checker{g: g, evs: evs, dir: dir}
	c.deletions(ctx)
	c.rmdir(ctx)
	c.otherOps(ctx)
}

// HasKprobes reports whether a kernel, by its symbol table, was built with
// kprobes (CONFIG_KPROBES), whatever is mounted.
func HasKprobes(kallsyms []byte) bool {
	_, err := FindSymbol(kallsyms, []string{"register_kprobe"})
	return err == nil
}

type checker struct {
	g   *harness.G
	evs *harness.Events
	dir string
}

// randomName is a file name no run has used, so nothing can be hard-coded.
func randomName(prefix string) string {
	return fmt.Sprintf("%s-%08x", prefix, rand.Uint32())
}

func (c *checker) touch(name string) error {
	return os.WriteFile(filepath.Join(c.dir, name), nil, 0o644)
}

// trigger runs actions in a fresh process and splits the events it caused
// into entries and returns.
func (c *checker) trigger(ctx context.Context, actions ...harness.Action) (*harness.TriggerResult, []Event, []Event, error) {
	c.evs.Drain()
	res, err := harness.RunTrigger(ctx, harness.Comm("lab2-"), actions...)
	if err != nil {
		return nil, nil, nil, err
	}
	recs, err := c.evs.Collect(150*time.Millisecond, 4096)
	if err != nil {
		return res, nil, nil, err
	}
	var entries, returns []Event
	for _, rec := range recs {
		e, err := decode(rec)
		if err != nil {
			return res, nil, nil, err
		}
		if int(e.Pid) != res.Pid && e.Comm != res.Comm {
			continue
		}
		switch e.Kind {
		case kindEntry:
			entries = append(entries, e)
		case kindReturn:
			returns = append(returns, e)
		default:
			return res, nil, nil, fmt.Errorf("an event of kind %d: use EVENT_ENTRY (1) or EVENT_RETURN (2)", e.Kind)
		}
	}
	return res, entries, returns, nil
}

func entryHint(want, got []Event) string {
	switch {
	case len(got) == 0:
		return "no entry event: in the kprobe, reserve a struct event with kind EVENT_ENTRY, fill it and submit it"
	case len(got) > len(want):
		return "more entry events than deletions: send one per call"
	case got[0].Path == "":
		return "the path is empty: read name->name with BPF_CORE_READ, then the string with bpf_probe_read_kernel_str (it is kernel memory, not user memory)"
	case got[0].Pid != want[0].Pid:
		return "the pid is not the caller's: it is the upper 32 bits of bpf_get_current_pid_tgid()"
	case got[0].Path != want[0].Path:
		return "the path is not the name the caller passed: copy the string name->name points to, not the pointer"
	}
	return "compare the fields in the diff"
}

func (c *checker) deletions(ctx context.Context) {
	abs := filepath.Join(c.dir, randomName("f"))
	rel := randomName("g")
	missing := filepath.Join(c.dir, randomName("missing"))
	for _, n := range []string{filepath.Base(abs), rel} {
		if err := c.touch(n); err != nil {
			c.g.Fail("unlink-reported", err.Error(), "", "")
			return
		}
	}
	// One process: unlink(abs), unlinkat(dirfd, rel), unlink(missing).
	res, entries, returns, err := c.trigger(ctx,
		harness.Action{Op: "unlink", Path: abs},
		harness.Action{Op: "unlink", Path: rel, Dir: c.dir},
		harness.Action{Op: "unlink", Path: missing},
	)
	if err != nil {
		c.g.Fail("unlink-reported", err.Error(), "keep struct event as lab2.h defines it", "")
		return
	}
	if _, err := os.Stat(abs); !errors.Is(err, os.ErrNotExist) {
		c.g.Fail("unlink-reported", "the trigger could not delete its file", "", "")
		return
	}
	pid, comm := uint32(res.Pid), res.Comm
	entry := func(p string) Event { return Event{Pid: pid, Kind: kindEntry, Comm: comm, Path: p} }

	// Entries, one check per call, matched by position.
	pick := func(i int) []Event {
		if i < len(entries) {
			return entries[i : i+1]
		}
		return nil
	}
	for _, ck := range []struct {
		name, what string
		idx        int
		want       Event
	}{
		{"unlink-reported", "unlink(" + abs + ")", 0, entry(abs)},
		{"unlinkat-relative", fmt.Sprintf("unlinkat(dirfd of %s, %q)", c.dir, rel), 1, entry(rel)},
	} {
		got := pick(ck.idx)
		if len(entries) != 3 {
			got = entries
		}
		want := []Event{ck.want}
		if diff := cmp.Diff(want, got); diff != "" {
			c.g.Fail(ck.name, fmt.Sprintf("process %d called %s: want one entry event with its pid, comm and the name as passed (%d entry events for 3 calls)", pid, ck.what, len(entries)),
				entryHint(want, got), "entry events (-want +got):\n"+diff)
		} else {
			c.g.Pass(ck.name, fmt.Sprintf("%s gave {pid %d, comm %s, path %q}", ck.what, pid, comm, ck.want.Path))
		}
	}

	// Returns: 0, 0, -ENOENT.
	wantRet := []int64{0, 0, -2}
	var gotRet []int64
	for _, r := range returns {
		if r.Pid == pid {
			gotRet = append(gotRet, r.Ret)
		}
	}
	if len(gotRet) == 3 && gotRet[0] == 0 && gotRet[1] == 0 {
		c.g.Pass("return-success", "the two deletions returned 0")
	} else {
		c.g.Fail("return-success", fmt.Sprintf("want return events 0, 0 for the two deletions that succeeded, got %v", gotRet),
			"in the kretprobe, send an event with kind EVENT_RETURN and the return value (BPF_KRETPROBE's ret)", "")
	}
	switch {
	case len(gotRet) == 3 && gotRet[2] == wantRet[2]:
		c.g.Pass("return-enoent", fmt.Sprintf("deleting %s, which does not exist, returned -2 (-ENOENT)", filepath.Base(missing)))
	case len(gotRet) == 3 && gotRet[2] == int64(uint32(wantRet[2])):
		c.g.Fail("return-enoent", fmt.Sprintf("deleting a file that does not exist: want -2 (-ENOENT), got %d, which is -2 as an unsigned 32-bit number", gotRet[2]),
			"the function returns int: declare the kretprobe's argument as int ret, so -2 stays -2 in the 64-bit field", "")
	default:
		c.g.Fail("return-enoent", fmt.Sprintf("deleting a file that does not exist: want a return event with -2 (-ENOENT) last, got %v", gotRet),
			"report the return value itself: the kernel returns 0 or a negative errno", "")
	}
}

// The lab's rule: rmdir, and unlinkat with AT_REMOVEDIR, remove directories,
// not files, and go through do_rmdir: they are not reported.
func (c *checker) rmdir(ctx context.Context) {
	const name = "rmdir-not-reported"
	d := randomName("d")
	if err := os.Mkdir(filepath.Join(c.dir, d), 0o755); err != nil {
		c.g.Fail(name, err.Error(), "", "")
		return
	}
	_, entries, _, err := c.trigger(ctx, harness.Action{Op: "rmdir", Path: d, Dir: c.dir})
	switch {
	case err != nil:
		c.g.Fail(name, err.Error(), "", "")
	case len(entries) == 0:
		c.g.Pass(name, "unlinkat(dirfd, dir, AT_REMOVEDIR) removed a directory and gave no entry event")
	default:
		c.g.Fail(name, fmt.Sprintf("removing a directory gave %d entry event(s): only file deletions are reported", len(entries)),
			"hook the function that deletes files (see README.md), not a generic one", "")
	}
}

func (c *checker) otherOps(ctx context.Context) {
	const name = "other-ops-silent"
	a, b := filepath.Join(c.dir, randomName("new")), filepath.Join(c.dir, randomName("moved"))
	_, entries, returns, err := c.trigger(ctx,
		harness.Action{Op: "create", Path: a},
		harness.Action{Op: "rename", Path: a, NewPath: b},
		harness.Action{Op: "open", Path: b},
	)
	switch {
	case err != nil:
		c.g.Fail(name, err.Error(), "", "")
	case len(entries)+len(returns) == 0:
		c.g.Pass(name, "creating, renaming and opening a file gave no event")
	default:
		c.g.Fail(name, fmt.Sprintf("creating, renaming and opening a file gave %d event(s)", len(entries)+len(returns)),
			"report deletions only: attach to the deleting function", "")
	}
}
