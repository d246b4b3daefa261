package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf/rlimit"
)

// WorkerCommand is the hidden bpflab subcommand that grades one object in
// a process of its own, under [GuestMain]'s supervision.
const WorkerCommand = "__grade-one"

// SubmissionTimeout bounds grading one submission: loading (the verifier
// included), attaching and the scenario. A submission that runs past it
// is stopped and fails the "grader" check; the others are graded as if it
// had not been there.
const SubmissionTimeout = 3 * time.Minute

// submissionTimeout is SubmissionTimeout; tests shorten it.
var submissionTimeout = SubmissionTimeout

// GuestMain grades objects ("label=path") with lab, each in a worker
// process of its own, and writes the reports to out. A worker that dies
// (a program that kills it, a verifier that runs out of memory) or runs
// past [SubmissionTimeout] costs only its own submission: the checks it
// reported are kept and the "grader" check says what happened. It runs in
// the guest, or on the host with --kernel host.
func GuestMain(ctx context.Context, lab *Lab, objs []string, seeds []uint64, progs []string, kernel, out string) error {
	if len(seeds) != len(objs) {
		return fmt.Errorf("%d objects and %d seeds: give one --seed after each --obj", len(objs), len(seeds))
	}
	if len(progs) != 0 && len(progs) != len(objs) {
		return fmt.Errorf("%d objects and %d programs: give one --prog after each --obj, or none", len(objs), len(progs))
	}
	// The kernel's features are the same for every submission: probed
	// once here, the check is handed to each worker (some 40 ms of a
	// vCPU each under TCG).
	_ = rlimit.RemoveMemlock()
	if b, err := json.Marshal(probeKernel(lab)); err == nil {
		os.Setenv(kernelCheckEnv, string(b))
	}
	// Several submissions share one parse of the kernel's BTF.
	var kt *kernelTypes
	if len(objs) > 1 {
		if k, err := newKernelTypes(); err == nil {
			defer k.close()
			kt = k
		}
	}
	var reports []*Report
	for i, o := range objs {
		label, path, ok := strings.Cut(o, "=")
		if !ok {
			return fmt.Errorf("--obj %q: want LABEL=PATH", o)
		}
		if v := os.Getenv(testPanicEnv); v != "" && v == label && os.Getenv("BPFLAB_GUEST") == "1" {
			_ = os.WriteFile("/proc/sysrq-trigger", []byte("c"), 0)
		}
		prog := ""
		if len(progs) > 0 {
			prog = progs[i]
		}
		reports = append(reports, supervise(ctx, lab, label, path, prog, kernel, seeds[i], kt))
	}
	return WriteJSON(out, reports)
}

// workerLine is one line a worker writes: a check as soon as it is
// recorded, then the whole report.
type workerLine struct {
	Check  *Check  `json:"check,omitempty"`
	Report *Report `json:"report,omitempty"`
	// KernelTypes asks the grader for the kernel's types of these names
	// (see kerneltypes.go); it answers on the worker's stdin.
	KernelTypes []string `json:"kernelTypes,omitempty"`
}

// Supervise grades one object in a worker process (this binary, run as
// [WorkerCommand]) and returns its report, whatever becomes of the worker.
func Supervise(ctx context.Context, lab *Lab, label, obj, prog, kernel string, seed uint64) *Report {
	return supervise(ctx, lab, label, obj, prog, kernel, seed, nil)
}

// supervise is Supervise, with kt answering the worker's requests for
// kernel types when it is not nil.
func supervise(ctx context.Context, lab *Lab, label, obj, prog, kernel string, seed uint64, kt *kernelTypes) *Report {
	r := &Report{Lab: lab.ID, Kernel: kernel, Source: label, Seed: seed}
	var stderr limitedBuffer
	hint := "the grader's own process was stopped: look at what your program does to processes it does not watch"
	fail := func(reason string) *Report {
		r.Add(Check{Name: "grader", Status: Fail, Reason: reason, Hint: hint,
			Detail: tailLines(stderr.String(), 40)})
		return r
	}
	self, err := os.Executable()
	if err != nil {
		return fail("finding the grader: " + err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, submissionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, WorkerCommand, "--lab", lab.ID, "--kernel", kernel,
		"--label", label, "--obj", obj, "--prog", prog, "--seed", strconv.FormatUint(seed, 10))
	stdin, err1 := cmd.StdinPipe()
	stdout, err2 := cmd.StdoutPipe()
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cg := newWorkerCgroup()
	if cg != nil {
		defer cg.remove()
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(cg.fd.Fd())
	}
	if err := errors.Join(err1, err2); err != nil {
		return fail(err.Error())
	}
	if kt != nil || cg != nil {
		cmd.Env = os.Environ()
	}
	if kt != nil {
		cmd.Env = append(cmd.Env, kernelTypesEnv+"=1")
	}
	if cg != nil {
		cmd.Env = append(cmd.Env, scopedEnv+"=1")
	}
	if err := cmd.Start(); err != nil {
		return fail("starting the grader: " + err.Error())
	}
	if kt == nil {
		stdin.Close()
	} else {
		defer stdin.Close()
	}
	var final *Report
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var l workerLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if l.Check != nil {
			r.Add(*l.Check)
		}
		if l.Report != nil {
			final = l.Report
		}
		if l.KernelTypes != nil && kt != nil {
			kt.answer(stdin, l.KernelTypes)
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if final != nil && err == nil {
		return final
	}
	pid := 0
	if cmd.Process != nil {
		pid = cmd.Process.Pid
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		hint = "keep loops short and bounded (the verifier follows every path), and do little work per event"
		return fail(fmt.Sprintf("grading this submission ran past %v and was stopped (a program that makes every call slow, or a verifier that works for minutes)", submissionTimeout))
	case cg != nil && cg.ooms() > 0:
		hint = "make the program simpler for the verifier (fewer branches inside loops, smaller loop bounds) and keep maps small"
		return fail(fmt.Sprintf("grading this submission used more than its %d MiB of the guest's memory and was stopped (a verifier log of hundreds of megabytes, from a program the verifier follows for millions of instructions, or maps too large)", cg.limit>>20))
	case errors.As(err, &ee) && ee.ProcessState != nil:
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fail(fmt.Sprintf("the grader's process %d was killed by %s while it graded this submission%s",
				pid, sigName(ws.Signal()), lastLine(stderr.String())))
		}
		return fail(fmt.Sprintf("the grader's process %d failed (exit %d)%s", pid, ee.ExitCode(), lastLine(stderr.String())))
	case err != nil:
		return fail("the grader's process: " + err.Error())
	}
	return fail("the grader's process ended without a report" + lastLine(stderr.String()))
}

// lastLine is the line of a worker's stderr that says why it ended: a Go
// panic's message, or the last line.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if i := strings.Index(s, "panic: "); i >= 0 {
		s = s[i:]
		if j := strings.IndexByte(s, '\n'); j >= 0 {
			s = s[:j]
		}
	} else if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return ": " + s
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// limitedBuffer keeps the first 64 KiB written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// WorkerMain grades one object and writes its checks, as they are
// recorded, and then its report, as JSON lines to stdout.
func WorkerMain(ctx context.Context, lab *Lab, label, obj, prog, kernel string, seed uint64) error {
	disguise(SeedFrom(seed ^ 0x5eed))
	rep := gradeObject(ctx, lab, obj, prog, kernel, label, seed, func(c Check) {
		writeLine(workerLine{Check: &c})
	})
	writeLine(workerLine{Report: rep})
	return nil
}

// disguise names every thread of this process like an ordinary program,
// so that neither a trigger's parent nor the grader carries a name a
// program could single out.
func disguise(r *rand.Rand) {
	name := ordinaryNames[r.IntN(len(ordinaryNames))]
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, t := range tasks {
		_ = os.WriteFile(filepath.Join("/proc/self/task", t.Name(), "comm"), []byte(name), 0)
	}
}
