package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/bpflab/bpflab/internal/fileutil"
	"github.com/bpflab/bpflab/vmtest/kernels"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"
)

// Lab is one graded exercise.
type Lab struct {
	// ID is what users type: lab-1.
	ID    string
	Title string
	// Hook, Teaches and Level describe the lab in the course's index
	// (README.md's table, bpflab labs); Level is beginner, intermediate or
	// advanced. Markdown.
	Hook, Teaches, Level string
	// MinKernel is the oldest kernel version the lab grades on ("5.10").
	MinKernel string
	// Features are what the lab needs of the kernel besides its version:
	// the "kernel" check probes them before anything loads, and skips the
	// lab on kernels too old for them (see [Feature]).
	Features []Feature
	// Needs are what the lab needs besides the kernel, in words, for
	// bpflab labs.
	Needs []string
	// Dir is the lab's directory relative to the source tree's root.
	Dir string
	// Source is the student's file in Dir; Solution the reference, in Dir.
	Source, Solution string
	// Wants are the programs the object must have.
	Wants []ProgramWant
	// Checks are the lab's own checks, in the order reports list them;
	// they come after the harness's (see [HarnessChecks]). A lab reports
	// only checks declared here.
	Checks []CheckDef
	// Run attaches the loaded programs, runs the lab's scenario and
	// records its checks. It is called only when the object loaded.
	Run func(ctx context.Context, g *G)
	// CPUs is the least number of vCPUs the lab's guest needs (0: one is
	// enough), for a lab whose programs must be right on several CPUs
	// at once.
	CPUs int
	// Alone says the lab's matrix ([labtest.Matrix]) must have the
	// host's cores to itself, one kernel at a time: for a lab whose
	// mistakes are races, which show only when its vCPUs execute at the
	// same moment (lab 5), or whose known-wrong programs fail checks
	// beyond their own mistake when the host is busy (lab 3). Other labs'
	// matrices run beside other tests.
	Alone bool
	// Build, when set, builds the lab's own programs (the binaries its
	// probes attach to) on the host, from the lab's directory src into
	// the empty directory out, with the host's compiler. They reach the
	// guest at the same paths; [G.Files] finds them there.
	Build func(ctx context.Context, src, out string) error
	// Trigger, when set, is the lab's trigger in C: a file in Dir that
	// includes bpflab_trigger.h and makes the lab's operations (their
	// arguments are [LineArgs]). It is built with the lab's programs and
	// runs every scenario process that has no [Process.Exe]; without it
	// they run this binary, and operations registered with [RegisterOp].
	// A static C trigger starts in about a millisecond under TCG, this
	// binary in about fifty: a scenario starts tens of processes.
	Trigger string
	// ReadObject, when set, reads the compiled object in place of
	// ebpf.LoadCollectionSpec, and prepares it for the running kernel (lab
	// 4's objects include libbpf's usdt.bpf.h, see harness/usdt).
	ReadObject func(obj string) (*ebpf.CollectionSpec, error)
	// Prog and ProgSolution, when set, are the directories (in Dir) of
	// the student's user-space program and the reference's: a Go main
	// package the student writes besides the C file (lab 7). Each
	// submission is graded with one ([Submission.Prog]); it is built on
	// the host ([BuildGo]) and the lab's Run starts it in the guest
	// ([G.Prog]).
	Prog, ProgSolution string
	// Symbols, when set, are the names one kernel function the lab
	// attaches to has had, in order of preference: the guest's grader
	// finds the first the running kernel has once, for every submission
	// ([G.Symbol]), since reading the kernel's symbol table takes a vCPU
	// under TCG the best part of a second.
	Symbols []string
}

// CheckDef declares a check: its name and, in a line, what a PASS means.
type CheckDef struct {
	Name string
	What string
}

// HarnessChecks are the checks every lab gets before its own, in order.
var HarnessChecks = []CheckDef{
	{"compile", "clang builds the C file"},
	{"kernel", "the kernel has what the lab needs (an older kernel skips the lab)"},
	{"object", "the object holds a BPF program"},
	{"license", "the object declares a license"},
	{"section", "each program the lab needs is in its section"},
	{"maps", "the kernel creates the object's maps"},
	{"verifier", "the kernel's verifier accepts the program"},
	{"grader", "the grader ran to its end"},
}

// Declared reports whether the lab or the harness declares check name.
func (l *Lab) Declared(name string) bool {
	for _, c := range HarnessChecks {
		if c.Name == name {
			return true
		}
	}
	for _, c := range l.Checks {
		if c.Name == name {
			return true
		}
	}
	return false
}

// CheckNames are the names of the lab's own checks, in order.
func (l *Lab) CheckNames() []string {
	var out []string
	for _, c := range l.Checks {
		out = append(out, c.Name)
	}
	return out
}

// Includes are the include directories for compiling this lab's C files.
// labFilesEnv names, in the guest, the directory of the programs the lab
// built on the host ([Lab.Build]).
const labFilesEnv = "BPFLAB_LAB_FILES"

// File is the path of a program [Lab.Build] made, by its name: a copy of
// the submission's own in [G.Dir], on the file system the scenario's
// processes run from (a process runs a hard link to it, so probes on it
// fire there).
func (g *G) File(name string) (string, error) {
	if g.Files == "" {
		return "", fmt.Errorf("the lab built no programs (no %s)", name)
	}
	dst := filepath.Join(g.Dir, "lab-files", name)
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := fileutil.Copy(filepath.Join(g.Files, name), dst, 0o755); err != nil {
		return "", fmt.Errorf("copying the lab's program %s: %w", name, err)
	}
	return dst, nil
}

func (l *Lab) Includes(root string) []string {
	return []string{filepath.Join(root, l.Dir), filepath.Join(root, "bpf")}
}

// G is the state of grading one submission.
type G struct {
	Lab    *Lab
	Loaded *Loaded
	Report *Report
	// BTF is the object's type information, to check event layouts.
	BTF *btf.Spec
	// Spec is the object as read, with the programs the lab grades.
	Spec *ebpf.CollectionSpec
	// Seed makes the run's scenario; Rand is seeded with it.
	Seed uint64
	Rand *rand.Rand
	// Dir is a directory of this submission's own, removed afterwards.
	Dir string
	// Files is the directory of the programs [Lab.Build] made, or "".
	Files string
	// Prog is the submission's user-space program, built ([Lab.Prog]),
	// or "".
	Prog string

	stream   func(Check)
	launcher *Launcher
	kernel   kernelChecked
}

// Symbol is the first of the lab's [Lab.Symbols] that the running kernel
// has, or an error saying that it has none.
func (g *G) Symbol() (string, error) {
	switch {
	case g.kernel.Symbol != "":
		return g.kernel.Symbol, nil
	case g.kernel.NoSymbol != "":
		return "", errors.New(g.kernel.NoSymbol)
	}
	return "", fmt.Errorf("lab %s lists no Symbols", g.Lab.ID)
}

func (g *G) add(c Check) {
	if g.Lab != nil && !g.Lab.Declared(c.Name) {
		panic(fmt.Sprintf("harness: lab %s reports check %q, which it does not declare", g.Lab.ID, c.Name))
	}
	g.Report.Add(c)
	if g.stream != nil {
		g.stream(c)
	}
}

// Pass records a passed check.
func (g *G) Pass(name, reason string) {
	g.add(Check{Name: name, Status: Pass, Reason: reason})
}

// Fail records a failed check.
func (g *G) Fail(name, reason, hint, detail string) {
	g.add(Check{Name: name, Status: Fail, Reason: reason, Hint: hint, Detail: detail})
}

// Skip records a check this kernel cannot run, with the reason.
func (g *G) Skip(name, reason string) {
	g.add(Check{Name: name, Status: Skip, Reason: reason})
}

// skipAll records every check, the harness's and the lab's, not yet
// reported as skipped, with the reason.
func (g *G) skipAll(reason string) {
	g.skipUnreported(HarnessChecks, reason)
	g.SkipRest(reason)
}

// SkipRest records every declared check of the lab not yet reported as
// skipped, with the reason.
func (g *G) SkipRest(reason string) { g.skipUnreported(g.Lab.Checks, reason) }

// skipUnreported records each of defs not yet reported as skipped.
func (g *G) skipUnreported(defs []CheckDef, reason string) {
	seen := map[string]bool{}
	for _, c := range g.Report.Checks {
		seen[c.Name] = true
	}
	for _, c := range defs {
		if !seen[c.Name] {
			g.Skip(c.Name, reason)
		}
	}
}

// TriggerName is the name of the built [Lab.Trigger] among the lab's
// programs.
const TriggerName = "bpflab-trigger"

// Launcher returns the submission's launcher of trigger processes.
func (g *G) Launcher() (*Launcher, error) {
	if g.launcher == nil {
		trigger := ""
		if g.Lab.Trigger != "" {
			if g.Files == "" {
				return nil, fmt.Errorf("the lab's trigger %s was not built", g.Lab.Trigger)
			}
			trigger = filepath.Join(g.Files, TriggerName)
		}
		l, err := newLauncher(g.Dir, trigger)
		if err != nil {
			return nil, err
		}
		g.launcher = l
	}
	return g.launcher, nil
}

// EventChecks declares the two checks [RingEvents] records, for a lab
// whose events are the struct event of header: its Checks start with them.
func EventChecks(header string) []CheckDef {
	return []CheckDef{
		{Name: "events-map", What: "the object has the ring buffer map events"},
		{Name: "event-layout", What: "struct event is " + header + "'s"},
	}
}

// Hints for the two fields every lab's events carry.
const (
	PidHint  = "the pid is not the caller's: it is the upper 32 bits of bpf_get_current_pid_tgid()"
	CommHint = "the comm is not the caller's: fill it with bpf_get_current_comm(e->comm, sizeof(e->comm))"
)

// RingEvents checks that the object has a ring buffer map named mapName
// and that its struct cname has the layout of T, recording the checks
// "events-map" and "event-layout" (which the lab declares). It reports
// whether both passed.
func RingEvents[T any](g *G, mapName, cname, header string) (*ebpf.Map, bool) {
	m := g.Loaded.Coll.Maps[mapName]
	if m == nil || m.Type() != ebpf.RingBuf {
		g.Fail("events-map", fmt.Sprintf("no ring buffer map named %s", mapName),
			fmt.Sprintf("keep the %s map of the starter file: the grader reads it", mapName), "")
		return nil, false
	}
	g.Pass("events-map", "ring buffer map "+mapName)
	if err := CheckLayout[T](g.BTF, cname); err != nil {
		g.Fail("event-layout", err.Error(),
			fmt.Sprintf("include %s and do not change it: the grader decodes exactly its struct %s", header, cname), "")
		return nil, false
	}
	g.Pass("event-layout", fmt.Sprintf("struct %s as %s defines it", cname, header))
	return m, true
}

// GradeObject loads the compiled object and runs the lab's checks on this
// kernel, with the scenario of seed. It is what runs in the guest.
func GradeObject(ctx context.Context, lab *Lab, obj, kernel, source string, seed uint64) *Report {
	return gradeObject(ctx, lab, obj, "", kernel, source, seed, nil)
}

func gradeObject(ctx context.Context, lab *Lab, obj, prog, kernel, source string, seed uint64, stream func(Check)) *Report {
	r := &Report{Lab: lab.ID, Kernel: kernel, Source: source, Seed: seed}
	g := &G{Lab: lab, Report: r, Seed: seed, Rand: SeedFrom(seed), Prog: prog, stream: stream}
	g.add(Check{Name: "compile", Status: Pass, Reason: "clang built the object"})
	// The probes load programs and maps: before 5.11 the kernel counts
	// them against RLIMIT_MEMLOCK, which the uid's other processes (other
	// workers, the scenario's) may have used up. A limit that cannot be
	// lifted fails the "maps" check later, with the reason.
	_ = rlimit.RemoveMemlock()
	k := checkedKernel(lab)
	g.kernel = k
	kc, skip := k.Check, k.Skip
	g.add(kc)
	if kc.Status == Fail {
		return r
	}
	if skip {
		g.skipAll(kc.Reason)
		return r
	}
	read := ebpf.LoadCollectionSpec
	if lab.ReadObject != nil {
		read = lab.ReadObject
	}
	spec, chosen, checks := loadSpec(obj, lab.Wants, read)
	for _, c := range checks {
		g.add(c)
	}
	if spec == nil {
		return r
	}
	g.BTF, g.Spec = spec.Types, spec
	lo := LoadOptions{FullLog: os.Getenv(fullLogEnv) == "1"}
	if os.Getenv(kernelTypesEnv) == "1" {
		lo.KernelTypes = askKernelTypes
	}
	loaded, cs := LoadChecks(spec, chosen, lo)
	for _, c := range cs {
		g.add(c)
	}
	if loaded == nil {
		return r
	}
	defer loaded.Close()
	g.Loaded = loaded
	// Named as mktemp(1) names them: the scenario's files and commands
	// live here, and their paths must not tell a program under test that
	// the grader made them.
	dir, err := os.MkdirTemp("", "tmp.")
	if err != nil {
		g.Fail("grader", "making a directory for the scenario: "+err.Error(), "", "")
		return r
	}
	defer os.RemoveAll(dir)
	g.Dir = dir
	g.Files = os.Getenv(labFilesEnv)
	lab.Run(ctx, g)
	return r
}

// BuildFiles builds the lab's own programs ([Lab.Build]) and its trigger
// ([Lab.Trigger]) from its directory under root into the empty directory
// out.
func (l *Lab) BuildFiles(ctx context.Context, root, out string) error {
	src := filepath.Join(root, l.Dir)
	if l.Trigger != "" {
		if err := BuildC(ctx, src, out, TriggerName, l.Trigger, "libc6-dev's libc.a"); err != nil {
			return fmt.Errorf("building the trigger of %s: %w", l.ID, err)
		}
	}
	if l.Build != nil {
		if err := l.Build(ctx, src, out); err != nil {
			return fmt.Errorf("building the programs of %s: %w", l.ID, err)
		}
	}
	return nil
}

// BuildC builds a lab's own C program for [Lab.Build]: src/file into
// out/name with the host's gcc, static (the guest has no C library) and
// with the labs' shared headers (labs/include: bpflab_trigger.h), plus
// flags. needs says what else the file needs, for the error. The program
// is kept in the cache, by its inputs: linking against the static C
// library takes gcc a third of a second, on every grading otherwise.
func BuildC(ctx context.Context, src, out, name, file, needs string, flags ...string) error {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return errors.New("gcc is missing: install gcc and libc6-dev (scripts/deps.sh does)")
	}
	include := filepath.Join(src, "..", "include")
	args := append([]string{"-static", "-O2", "-g", "-pthread", "-I", include}, flags...)
	dst := filepath.Join(out, name)
	key, kerr := buildKey(gcc, args, file, src, include)
	cached := filepath.Join(builtDir(), key)
	if kerr == nil && fileutil.Copy(cached, dst, 0o755) == nil {
		return nil
	}
	cmd := exec.CommandContext(ctx, gcc, append(args, "-o", dst, filepath.Join(src, file))...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gcc %s: %v\n%s(%s needs %s)", name, err, b, file, needs)
	}
	if kerr == nil {
		keepBuilt(dst, cached)
	}
	return nil
}

// builtDir is where BuildC keeps the programs it built.
func builtDir() string { return filepath.Join(kernels.DefaultDir(), "built") }

// maxBuilt bounds the programs kept; the least recently built go first.
const maxBuilt = 64

// buildKey names a program by what gcc builds it from: the compiler (its
// path, size and time), the arguments, the file, and every file of the
// lab's directory and of the shared headers' (what it may include).
func buildKey(gcc string, args []string, file string, dirs ...string) (string, error) {
	h := sha256.New()
	fi, err := os.Stat(gcc)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "%s %d %d\n%q %s\n", gcc, fi.Size(), fi.ModTime().UnixNano(), args, file)
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			return "", err
		}
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(d, e.Name()))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s %d\n", e.Name(), len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// keepBuilt copies a program BuildC built into the cache (atomically:
// another grading may read it meanwhile), and trims the cache.
func keepBuilt(built, cached string) {
	dir := filepath.Dir(cached)
	if os.MkdirAll(dir, 0o755) != nil {
		return
	}
	f, err := os.Open(built)
	if err != nil {
		return
	}
	err = fileutil.Replace(cached, f, 0o755)
	f.Close()
	if err != nil {
		return
	}
	trimDir(dir, maxBuilt)
}

// BuildGo builds the Go main package in directory dir into the static
// binary out (the guest has no C library), with the module at root (bpflab's
// source tree). A directory inside root builds there; one outside (a
// student's, in a class) builds as a module of its own whose only
// requirement is bpflab at root: its .go files are copied into a temporary
// directory beside a go.mod that says so and bpflab's go.sum. A package that
// does not compile is a *[CompileError] with go build's messages.
func BuildGo(ctx context.Context, root, dir, out string) error {
	if _, err := exec.LookPath("go"); err != nil {
		return errors.New("go is missing: bpflab builds the lab's Go program with the Go toolchain that built bpflab")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	fi, err := os.Stat(abs)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a directory of Go files", dir)
	}
	if err := checkGoSource(abs, dir); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	build, pkg, label := root, "", dir
	if rel, err := filepath.Rel(root, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		pkg, label = "./"+filepath.ToSlash(rel), rel
	} else {
		tmp, err := os.MkdirTemp("", "bpflab-gobuild-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := submissionModule(root, abs, tmp); err != nil {
			return err
		}
		build, pkg = tmp, "."
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = build
	// No toolchain switch, no workspace, no module the submission adds.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS=-mod=readonly")
	if b, err := cmd.CombinedOutput(); err != nil {
		msg := strings.TrimSpace(string(b))
		if msg == "" {
			msg = err.Error()
		}
		return &CompileError{Src: label, Msg: msg}
	}
	if fi, err := os.Stat(out); err == nil && fi.Size() > maxGoProgram {
		os.Remove(out)
		return &CompileError{Src: label, Msg: fmt.Sprintf("the program built from %s is %d MiB, over the %d MiB a submission may be: "+
			"large data in the source (a big initialised array or string) does this", dir, fi.Size()>>20, maxGoProgram>>20)}
	}
	return nil
}

// Bounds of a submitted Go program: its .go files together, and the
// binary built from them (lab 7's reference builds to under 4 MiB). The
// binary goes into the guest with the others of a class.
const (
	maxGoSource  = 1 << 20
	maxGoProgram = 32 << 20
)

// checkGoSource refuses a directory whose .go files weigh more than
// maxGoSource together, before go build spends memory and time on them.
func checkGoSource(abs, label string) error {
	ents, err := os.ReadDir(abs)
	if err != nil {
		return err
	}
	var n int64
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	if n > maxGoSource {
		return &CompileError{Src: label, Msg: fmt.Sprintf("the .go files of %s weigh %d KiB together, over the %d KiB a submission may have", label, n>>10, maxGoSource>>10)}
	}
	return nil
}

// submissionModule lays out in tmp a module of the .go files of dir that
// requires bpflab at root.
func submissionModule(root, dir, tmp string) error {
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return err
	}
	goVersion := "1.22"
	for _, l := range strings.Split(string(mod), "\n") {
		if v, ok := strings.CutPrefix(l, "go "); ok {
			goVersion = strings.TrimSpace(v)
		}
	}
	gomod := fmt.Sprintf("module bpflab.submission\n\ngo %s\n\nrequire github.com/bpflab/bpflab v0.0.0\n\nreplace github.com/bpflab/bpflab => %s\n", goVersion, root)
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte(gomod), 0o644); err != nil {
		return err
	}
	if err := fileutil.Copy(filepath.Join(root, "go.sum"), filepath.Join(tmp, "go.sum"), 0o644); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	n := 0
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
			if err := fileutil.Copy(filepath.Join(dir, e.Name()), filepath.Join(tmp, e.Name()), 0o644); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return &CompileError{Src: dir, Msg: "no .go file in " + dir}
	}
	return nil
}
