// Package lab1 grades lab 1: a tracepoint program on
// syscalls/sys_enter_openat that reports every process opening /etc/passwd
// and, in part 2, kills it.
//
// Students write only the C file; this package is the loader and grader.
package lab1

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/bpflab/bpflab/harness"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/google/go-cmp/cmp"
)

const section = "tracepoint/syscalls/sys_enter_openat"

// Lab is lab 1.
var Lab = &harness.Lab{
	ID:       "lab-1",
	Title:    "A tracepoint on sys_enter_openat catches opens of /etc/passwd",
	Dir:      "labs/lab-1",
	Source:   "openat.bpf.c",
	Solution: "solution/openat.bpf.c",
	Wants: []harness.ProgramWant{{
		Sections: []string{section, "tp/syscalls/sys_enter_openat"},
	}},
	Run: run,
}

// Event is struct event of lab1.h, decoded.
type Event struct {
	Pid  uint32
	Comm string
	Path string
}

// eventSize is sizeof(struct event): 4 + 16 + 256.
const eventSize = 4 + 16 + 256

func decode(rec []byte) (Event, error) {
	if len(rec) < eventSize {
		return Event{}, fmt.Errorf("a record of %d bytes, want %d (struct event of lab1.h)", len(rec), eventSize)
	}
	return Event{
		Pid:  binary.LittleEndian.Uint32(rec[0:4]),
		Comm: harness.CString(rec[4:20]),
		Path: harness.CString(rec[20:eventSize]),
	}, nil
}

const passwd = "/etc/passwd"

func run(ctx context.Context, g *harness.G) {
	m := g.Loaded.Coll.Maps["events"]
	if m == nil || m.Type() != ebpf.RingBuf {
		g.Fail("events-map", "no ring buffer map named events",
			"keep the events map of the starter file: the grader reads it", "")
		return
	}
	g.Pass("events-map", "ring buffer map events")
	l, err := link.Tracepoint("syscalls", "sys_enter_openat", g.Loaded.Prog[section], nil)
	if err != nil {
		g.Fail("attach", "attaching to syscalls/sys_enter_openat: "+err.Error(), harness.AttachHint(err), "")
		return
	}
	defer l.Close()
	g.Pass("attach", "attached to tracepoint syscalls/sys_enter_openat")
	evs, err := harness.OpenEvents(m)
	if err != nil {
		g.Fail("events-map", "reading the ring buffer: "+err.Error(), "", "")
		return
	}
	defer evs.Close()

	checkReported(ctx, g, evs)
	checkExact(ctx, g, evs)
	checkRelative(ctx, g, evs)
	checkReact(ctx, g, evs)
}

// trigger runs actions in a fresh process and returns it with the events
// attributable to it (by pid or by its unique comm).
func trigger(ctx context.Context, evs *harness.Events, actions ...harness.Action) (*harness.TriggerResult, []Event, error) {
	evs.Drain()
	res, err := harness.RunTrigger(ctx, harness.Comm("lab1-"), actions...)
	if err != nil {
		return nil, nil, err
	}
	recs, err := evs.Collect(150*time.Millisecond, 4096)
	if err != nil {
		return res, nil, err
	}
	var mine []Event
	for _, rec := range recs {
		e, err := decode(rec)
		if err != nil {
			return res, nil, err
		}
		if int(e.Pid) == res.Pid || e.Comm == res.Comm {
			mine = append(mine, e)
		}
	}
	return res, mine, nil
}

func checkReported(ctx context.Context, g *harness.G, evs *harness.Events) {
	const name = "passwd-reported"
	res, got, err := trigger(ctx, evs, harness.Action{Op: "open", Path: passwd})
	if err != nil {
		g.Fail(name, err.Error(), "keep struct event as lab1.h defines it", "")
		return
	}
	want := []Event{{Pid: uint32(res.Pid), Comm: res.Comm, Path: passwd}}
	diff := cmp.Diff(want, got)
	if diff == "" {
		g.Pass(name, fmt.Sprintf("one event {pid %d, comm %s, path %s}", res.Pid, res.Comm, passwd))
		return
	}
	reason := fmt.Sprintf("process %d (%s) opened %s: want exactly one event with its pid, comm and the path, got %d",
		res.Pid, res.Comm, passwd, len(got))
	hint := ""
	switch {
	case len(got) == 0:
		hint = "no event reached the ring buffer: reserve a struct event, fill it and bpf_ringbuf_submit it when the name matches"
	case len(got) > 1:
		hint = "more than one event for one open of /etc/passwd: report only names equal to /etc/passwd"
	case got[0].Path == "":
		hint = "the path is empty: copy it from user memory with bpf_probe_read_user_str(buf, size, (const char *)ctx->args[1])"
	case got[0].Pid != uint32(res.Pid):
		hint = "the pid is not the opener's: it is the upper 32 bits of bpf_get_current_pid_tgid()"
	case got[0].Comm != res.Comm:
		hint = "the comm is not the opener's: fill it with bpf_get_current_comm(e->comm, sizeof(e->comm))"
	case got[0].Path != passwd:
		hint = "the path is not the file name the process passed: copy the string itself, not the pointer"
	}
	g.Fail(name, reason, hint, "events (-want +got):\n"+diff)
}

func checkExact(ctx context.Context, g *harness.G, evs *harness.Events) {
	const name = "exact-match"
	others := []string{"/etc/hosts", "/etc/passwd.bak", "/etc/passwdX", "/etc/passwd/"}
	var actions []harness.Action
	for _, p := range others {
		actions = append(actions, harness.Action{Op: "open", Path: p})
	}
	_, got, err := trigger(ctx, evs, actions...)
	if err != nil {
		g.Fail(name, err.Error(), "", "")
		return
	}
	if len(got) == 0 {
		g.Pass(name, fmt.Sprintf("no event for %v", others))
		return
	}
	g.Fail(name, fmt.Sprintf("opening %v gave %d event(s): only /etc/passwd itself is reported", others, len(got)),
		"compare the whole name, its terminating NUL included: a prefix match also catches /etc/passwdX",
		"events (want none):\n"+cmp.Diff([]Event(nil), got))
}

// The lab's rule for relative names: the program judges the file name the
// process passed, as a string. At sys_enter_openat the kernel has not
// resolved it yet, so "passwd" opened from /etc, or relative to a
// directory descriptor for /etc, is not reported. (Hooks that see the
// resolved file, such as the BPF LSM's file_open, come in a later lab.)
func checkRelative(ctx context.Context, g *harness.G, evs *harness.Events) {
	const name = "relative-name-rule"
	_, got, err := trigger(ctx, evs,
		harness.Action{Op: "open", Path: "passwd", Chdir: "/etc"},
		harness.Action{Op: "open", Path: "passwd", Dir: "/etc"},
	)
	if err != nil {
		g.Fail(name, err.Error(), "", "")
		return
	}
	if len(got) == 0 {
		g.Pass(name, `"passwd" opened relative to /etc (cwd or dirfd) is not reported: the rule is the name as passed`)
		return
	}
	g.Fail(name, fmt.Sprintf(`"passwd" opened relative to /etc gave %d event(s); this lab matches the name as passed, "/etc/passwd" only`, len(got)),
		"see README.md, 'Relative names': compare the name string; do not resolve it", "")
}

func checkReact(ctx context.Context, g *harness.G, evs *harness.Events) {
	if err := features.HaveProgramHelper(ebpf.TracePoint, asm.FnSendSignal); err != nil {
		reason := "bpf_send_signal is not available to tracepoint programs on this kernel"
		if !errors.Is(err, ebpf.ErrNotSupported) {
			reason += ": " + err.Error()
		}
		g.Skip("react-kill", reason)
		g.Skip("react-control", reason)
		return
	}
	res, _, err := trigger(ctx, evs, harness.Action{Op: "open", Path: passwd, Read: true})
	switch {
	case err != nil:
		g.Fail("react-kill", err.Error(), "", "")
	case res.Signal == syscall.SIGKILL && !res.ReadOK:
		g.Pass("react-kill", fmt.Sprintf("process %d died by SIGKILL before reading a byte of %s", res.Pid, passwd))
	case res.Signal != 0:
		g.Fail("react-kill", fmt.Sprintf("process %d died by %v, want SIGKILL", res.Pid, res.Signal),
			"send signal 9 (SIGKILL)", "")
	default:
		g.Fail("react-kill", fmt.Sprintf("process %d opened %s and read it (read ok: %v): it should have been killed", res.Pid, passwd, res.ReadOK),
			"part 2: call bpf_send_signal(9) when the name matches", "")
	}

	res, _, err = trigger(ctx, evs, harness.Action{Op: "open", Path: "/etc/hosts", Read: true})
	switch {
	case err != nil:
		g.Fail("react-control", err.Error(), "", "")
	case res.Signal == 0 && res.ReadOK:
		g.Pass("react-control", fmt.Sprintf("process %d opened and read /etc/hosts and lived", res.Pid))
	default:
		g.Fail("react-control", fmt.Sprintf("process %d opening /etc/hosts was killed (%v)", res.Pid, res.Signal),
			"kill only openers of /etc/passwd: send the signal after the name matched", "")
	}
}
