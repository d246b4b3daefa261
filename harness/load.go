package harness

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"
)

// ProgramWant says which program a lab expects in the object.
type ProgramWant struct {
	// Sections are the accepted section names, e.g.
	// "tracepoint/syscalls/sys_enter_openat" and its short form; the first
	// is the one hints name. The section also gives the program's type.
	Sections []string
	// Prefix, when set, also accepts any section that starts with it and
	// names more after it: the attach point, which the lab's loader reads
	// from [Loaded.Section] (libbpf's "uprobe/BINARY:FUNCTION").
	Prefix string
}

// Loaded is a submission's programs and maps in the kernel.
type Loaded struct {
	Coll *ebpf.Collection
	// Prog is the program the lab grades, by the section it wanted.
	Prog map[string]*ebpf.Program
	// Section is the program's own section, by the section it wanted.
	Section map[string]string
}

// Close releases the programs and maps.
func (l *Loaded) Close() {
	if l != nil && l.Coll != nil {
		l.Coll.Close()
	}
}

// LoadSpec reads an object and checks what must hold before the kernel sees
// it: a license, and one program for each wanted section. It returns
// checks named "object", "license" and "section".
func LoadSpec(obj string, wants []ProgramWant) (*ebpf.CollectionSpec, map[string]string, []Check) {
	return loadSpec(obj, wants, ebpf.LoadCollectionSpec)
}

func loadSpec(obj string, wants []ProgramWant, read func(string) (*ebpf.CollectionSpec, error)) (*ebpf.CollectionSpec, map[string]string, []Check) {
	var checks []Check
	spec, err := read(obj)
	// A lab's ReadObject may say what is wrong itself (lab 6: a variable
	// its loader sets is missing).
	var hinted interface{ Hint() string }
	if err != nil && errors.As(err, &hinted) {
		return nil, nil, []Check{{Name: "object", Status: Fail, Reason: err.Error(), Hint: hinted.Hint()}}
	}
	if err != nil {
		return nil, nil, []Check{{Name: "object", Status: Fail,
			Reason: "the compiled object cannot be read: " + err.Error(),
			Hint:   "an empty or broken file compiles to an object with no program; start again from the starter file"}}
	}
	if len(spec.Programs) == 0 {
		return nil, nil, []Check{{Name: "object", Status: Fail,
			Reason: "the file defines no BPF program",
			Hint:   "a program is a function with a SEC(\"...\") annotation, as in the starter file"}}
	}
	checks = append(checks, Check{Name: "object", Status: Pass, Reason: fmt.Sprintf("%d program(s) found", len(spec.Programs))})

	license := ""
	for _, p := range spec.Programs {
		license = p.License
	}
	if license == "" {
		checks = append(checks, Check{Name: "license", Status: Fail,
			Reason: "the object declares no license",
			Hint:   `add: char LICENSE[] SEC("license") = "GPL"; (helpers such as bpf_probe_read_user_str are GPL-only)`})
		return nil, nil, checks
	}
	checks = append(checks, Check{Name: "license", Status: Pass, Reason: fmt.Sprintf("license %q", license)})

	chosen := map[string]string{} // wanted section -> program name
	var have []string
	for name, p := range spec.Programs {
		have = append(have, fmt.Sprintf("%s (SEC %q)", name, p.SectionName))
	}
	sort.Strings(have)
	// Exact sections first; then, for wants with a prefix, the programs
	// left whose section has it, in name order.
	taken := map[string]bool{}
	for _, w := range wants {
		var found []string
		for name, p := range spec.Programs {
			if slices.Contains(w.Sections, p.SectionName) {
				found = append(found, fmt.Sprintf("%s (SEC %q)", name, p.SectionName))
				chosen[w.Sections[0]] = name
				taken[name] = true
			}
		}
		if len(found) > 1 {
			// The grader attaches one; a loader would attach all of
			// them, and each would run on every call.
			sort.Strings(found)
			checks = append(checks, Check{Name: "section", Status: Fail,
				Reason: fmt.Sprintf("%d programs in section %q: %s", len(found), w.Sections[0], strings.Join(found, ", ")),
				Hint:   "keep one program on this hook: every program attached there runs on each call, so the grader cannot grade one of them alone"})
			return nil, nil, checks
		}
	}
	names := make([]string, 0, len(spec.Programs))
	for name := range spec.Programs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, w := range wants {
		if _, ok := chosen[w.Sections[0]]; ok || w.Prefix == "" {
			continue
		}
		for _, name := range names {
			sec := spec.Programs[name].SectionName
			if !taken[name] && len(sec) > len(w.Prefix) && strings.HasPrefix(sec, w.Prefix) {
				chosen[w.Sections[0]] = name
				taken[name] = true
				break
			}
		}
	}
	for _, w := range wants {
		if _, ok := chosen[w.Sections[0]]; !ok {
			checks = append(checks, Check{Name: "section", Status: Fail,
				Reason: fmt.Sprintf("no program in section %q; found %s", w.Sections[0], strings.Join(have, ", ")),
				Hint:   fmt.Sprintf("the section name tells the loader where to attach: use SEC(%q)", w.Sections[0])})
			return nil, nil, checks
		}
	}
	checks = append(checks, Check{Name: "section", Status: Pass, Reason: "found " + strings.Join(have, ", ")})
	return spec, chosen, checks
}

// MaxVerifierLogLines is how much of a verifier log a rejection's Detail
// keeps, from its end, unless [LoadOptions.FullLog] asks for all of it: a
// program the verifier follows for a million instructions logs far more.
const MaxVerifierLogLines = 200

// LoadOptions change what [Load] reports.
type LoadOptions struct {
	// FullLog keeps the whole verifier log in a rejection's Detail (for
	// bpflab grade -v), not only its last MaxVerifierLogLines lines.
	FullLog bool
	// KernelTypes, when set, gives the kernel's types that the named
	// local types can match, to relocate against in place of the whole
	// kernel BTF; on an error the whole kernel BTF is used.
	KernelTypes func(names []string) (*btf.Spec, error)
}

// LoadChecks creates the spec's maps and programs in the kernel and
// returns the checks it made, in order: "maps" (a map the kernel cannot
// create fails it), then, when the maps were created, "verifier" (a
// rejection fails it, with the log's tail and a hint).
func LoadChecks(spec *ebpf.CollectionSpec, chosen map[string]string, opts ...LoadOptions) (*Loaded, []Check) {
	var o LoadOptions
	for _, opt := range opts {
		o.FullLog = o.FullLog || opt.FullLog
		if opt.KernelTypes != nil {
			o.KernelTypes = opt.KernelTypes
		}
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, []Check{{Name: "maps", Status: Fail, Reason: "cannot lift the memlock limit: " + err.Error()}}
	}
	// Load only the programs the lab grades: a helper left over in the
	// file must not fail the load.
	keep := map[string]bool{}
	for _, name := range chosen {
		keep[name] = true
	}
	for name := range spec.Programs {
		if !keep[name] {
			delete(spec.Programs, name)
		}
	}
	mapsPass := Check{Name: "maps", Status: Pass, Reason: fmt.Sprintf("the kernel created the object's %d map(s)", len(spec.Maps))}
	var kernelTypes *btf.Spec
	if o.KernelTypes != nil {
		if names, ok := relocationRoots(spec); ok && len(names) > 0 {
			kernelTypes, _ = o.KernelTypes(names)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{
		Programs: ebpf.ProgramOptions{LogSizeStart: 1 << 20, KernelTypes: kernelTypes},
	})
	if err != nil {
		// cilium/ebpf creates every map before any program.
		if c, ok := mapCheck(spec, err); ok {
			return nil, []Check{c}
		}
		return nil, []Check{mapsPass, verifierCheck(err, o)}
	}
	l := &Loaded{Coll: coll, Prog: map[string]*ebpf.Program{}, Section: map[string]string{}}
	for sec, name := range chosen {
		l.Prog[sec] = coll.Programs[name]
		l.Section[sec] = spec.Programs[name].SectionName
	}
	return l, []Check{mapsPass, {Name: "verifier", Status: Pass, Reason: "the kernel's verifier accepted the program"}}
}

// mapFailure matches the errors cilium/ebpf returns for a map it could not
// create: "map NAME: ...", "finalizing map NAME: ...", "assembling
// contents of map NAME: ...".
var mapFailure = regexp.MustCompile(`^(?:map|finalizing map|assembling contents of map) (\S+): (.*)$`)

// mapCheck turns a map creation failure into a failed "maps" check.
func mapCheck(spec *ebpf.CollectionSpec, err error) (Check, bool) {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return Check{}, false
	}
	m := mapFailure.FindStringSubmatch(err.Error())
	if m == nil {
		return Check{}, false
	}
	name, why := m[1], m[2]
	what := name
	ms := spec.Maps[name]
	if ms != nil {
		what = fmt.Sprintf("%s (%s, max_entries %d)", name, ms.Type, ms.MaxEntries)
	}
	return Check{Name: "maps", Status: Fail,
		Reason: fmt.Sprintf("the kernel could not create map %s: %s", what, why),
		Hint:   mapHint(ms, err)}, true
}

// mapHint explains a map the kernel would not create.
func mapHint(ms *ebpf.MapSpec, err error) string {
	const memory = "a map must fit in the kernel's memory (a guest has --memory, 512 MiB by default, and the kernel allocates the whole map up front)"
	page := uint32(os.Getpagesize())
	switch {
	case errors.Is(err, syscall.EPERM):
		return "creating maps needs CAP_BPF or root; grade in a VM (without --kernel host)"
	case ms != nil && ms.Type == ebpf.RingBuf:
		n := ms.MaxEntries
		pow2 := n != 0 && n&(n-1) == 0
		if !pow2 || n%page != 0 {
			return fmt.Sprintf("a ring buffer's max_entries is its size in bytes and must be a power of two multiple of the page size (%d): %d is not; 256 * 1024 is plenty for a lab", page, n)
		}
		return fmt.Sprintf("a ring buffer's max_entries is its size in bytes, a power of two multiple of the page size (%d); %s: 256 * 1024 is plenty for a lab", page, memory)
	case errors.Is(err, syscall.ENOMEM) || errors.Is(err, syscall.E2BIG):
		return "max_entries times the key and value sizes is too much: " + memory
	}
	return "check the map's definition in SEC(\".maps\"): its type, max_entries, key and value sizes; " + memory
}

func verifierCheck(err error, o LoadOptions) Check {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return Check{Name: "verifier", Status: Fail,
			Reason: "the verifier rejected the program: " + lastMeaningful(ve.Log),
			Hint:   hintFor(rejectionCause(ve.Log)),
			Detail: capLog(ve.Log, o.FullLog)}
	}
	return Check{Name: "verifier", Status: Fail, Reason: "loading failed: " + err.Error(), Hint: VerifierHint(err.Error())}
}

// capLog is the verifier log for a report: its last MaxVerifierLogLines
// lines, after a line that says how many were left out, or all of it.
func capLog(log []string, full bool) string {
	for len(log) > 0 && strings.TrimSpace(log[len(log)-1]) == "" {
		log = log[:len(log)-1]
	}
	if full || len(log) <= MaxVerifierLogLines {
		return strings.Join(log, "\n")
	}
	cut := len(log) - MaxVerifierLogLines
	head := fmt.Sprintf("(%d earlier lines of the verifier log left out; bpflab grade -v shows all %d)", cut, len(log))
	return head + "\n" + strings.Join(log[cut:], "\n")
}

// lastMeaningful is the line of the log that says why: the last one that
// is not the summary of processed instructions.
func lastMeaningful(log []string) string {
	for i := len(log) - 1; i >= 0; i-- {
		l := strings.TrimSpace(log[i])
		if l == "" || isSummary(l) {
			continue
		}
		return l
	}
	return "(empty log)"
}

// isSummary reports a line the verifier prints after every verification,
// accepted or not.
func isSummary(l string) bool {
	for _, p := range []string{"processed ", "verification time", "stack depth", "-- END PROG LOAD LOG --"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

var (
	// insnLine is a line of the verifier's walk through the program: an
	// instruction ("12: (85) call ..."), the state at one ("0: R1=ctx()"),
	// a branch ("from 15 to 26: ..."), a source line ("; e->pid = ..."),
	// or function and precision-tracking bookkeeping.
	insnLine = regexp.MustCompile(`^(?:\d+: |from \d+ to \d+: |; |func#\d+ |mark_precise: |last_idx |regs=|parent |caller:|callee:)`)
	// stateLine is a register or stack state dump printed with an error
	// ("cur state: R0=..."): it names every pointer type in play, so it
	// says nothing about the cause.
	stateLine = regexp.MustCompile(`^(?:(?:cur|old) state:|frame\d+: |R\d+(?:_[rwD]+)?=|fp-\d+)`)
)

// maxCauseLines bounds the lines taken as the rejection's cause.
const maxCauseLines = 5

// rejectionCause is the part of a verifier log that says why the program
// was rejected: the lines after the last instruction the verifier looked
// at, without the closing summary and state dumps, at most maxCauseLines.
// A log whose every line reads as an error (one line, or no instruction
// dump) gives its last lines.
func rejectionCause(log []string) []string {
	var lines []string
	for _, l := range log {
		l = strings.TrimSpace(l)
		if l != "" && !isSummary(l) {
			lines = append(lines, l)
		}
	}
	start := 0
	for i := len(lines) - 1; i >= 0; i-- {
		if insnLine.MatchString(lines[i]) {
			start = i + 1
			break
		}
	}
	var cause []string
	for _, l := range lines[start:] {
		if !stateLine.MatchString(l) {
			cause = append(cause, l)
		}
	}
	if start == 0 && len(cause) > maxCauseLines {
		return cause[len(cause)-maxCauseLines:]
	}
	if len(cause) > maxCauseLines {
		cause = cause[:maxCauseLines]
	}
	return cause
}

// hint maps a pattern in the verifier log to advice on the usual cause.
type hint struct {
	re   *regexp.Regexp
	text string
}

var hints = []hint{
	{regexp.MustCompile(`GPL-restricted|gpl_only|non-GPL`),
		`this helper is GPL-only: declare char LICENSE[] SEC("license") = "GPL";`},
	{regexp.MustCompile(`map_value_or_null|ringbuf_mem_or_null|_or_null'|Possibly NULL pointer`),
		"a pointer that may be NULL is used unchecked: test the result of bpf_map_lookup_elem or bpf_ringbuf_reserve before using it"},
	{regexp.MustCompile(`Unreleased reference|unreleased reference`),
		"a reserved ring buffer record is not released on every path: call bpf_ringbuf_submit or bpf_ringbuf_discard on each one"},
	{regexp.MustCompile(`back-edge|infinite loop|loop is not bounded|BPF program is too large|too many states`),
		"a loop the verifier cannot bound: give every loop a constant upper bound (for (int i = 0; i < N; i++)), or use bpf_loop"},
	{regexp.MustCompile(`combined stack size|stack size of|invalid (?:write to|read from|indirect access to|write|read) (?:to )?stack R\d+ off=-(?:51[3-9]|5[2-9]\d|[6-9]\d\d|\d{4,})\b|stack limit`),
		"the BPF stack is 512 bytes: keep large buffers in the ring buffer record or in a per-CPU array map"},
	{regexp.MustCompile(`variable-offset (?:read from|write to|access to|indirect access to) stack|min value is negative|max value is outside of the allowed memory range|unbounded memory access`),
		"an index or length is not bounded where the verifier can see it: check it against the buffer's size just before using it (if (i >= sizeof(buf)) return 0;), with unsigned types"},
	{regexp.MustCompile(`unknown func|program of this type cannot use helper|helper call is not allowed`),
		"this helper is not available to this program type on this kernel"},
	{regexp.MustCompile(`invalid mem access 'scalar'|invalid mem access 'inv'|R\d+ invalid mem access|invalid bpf_context access|dereference of modified ctx`),
		"memory is read directly through a pointer: read kernel memory with BPF_CORE_READ or bpf_probe_read_kernel, user memory with bpf_probe_read_user(_str)"},
	{regexp.MustCompile(`invalid indirect read from stack|invalid read from stack`),
		"a stack buffer is passed to a helper before it is initialised: zero it first (char buf[N] = {};)"},
	{regexp.MustCompile(`At program exit the register R0 has .* should have been in`),
		"the verifier must see the program return a value in the allowed range (an LSM program: 0 or a negative errno): return constants from separate branches (if (deny) return -EPERM; return 0;), and if the compiler still folds them into arithmetic, put barrier_var(deny) before the test"},
}

// defaultHint is given when no known pattern is the cause.
const defaultHint = "read the last lines of the log: the instruction it stopped at and why (bpflab grade -v shows the whole log)"

// VerifierHint returns a one-line hint for a verifier log, or a general
// one when no known pattern matches. Only the rejection's cause (see
// rejectionCause) is matched: a pattern elsewhere in the log, such as the
// ringbuf_mem_or_null state of every program that reserves a record, is
// not the reason the program was rejected.
func VerifierHint(log string) string {
	return hintFor(rejectionCause(strings.Split(log, "\n")))
}

// hintFor is the hint of the first cause line that matches a pattern.
func hintFor(cause []string) string {
	for _, l := range cause {
		for _, h := range hints {
			if h.re.MatchString(l) {
				return h.text
			}
		}
	}
	return defaultHint
}

// AttachHint explains an attach failure caused by the machine rather than
// the program, or returns "". It looks at the machine and at the error's
// errno, not at the error's text.
func AttachHint(err error) string {
	return attachHint(err, tracefsMounted)
}

func attachHint(err error, mounted func() bool) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES):
		return "attaching needs root (CAP_BPF and CAP_PERFMON): grade in a VM (without --kernel host)"
	case !mounted():
		return "tracefs is not mounted on this machine: mount -t tracefs nodev /sys/kernel/tracing (as root), or grade in a VM (without --kernel host)"
	}
	return ""
}

// tracefsMounted reports whether tracepoints and probes can be found
// through tracefs, at its own mount point or under debugfs.
func tracefsMounted() bool {
	for _, d := range []string{"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"} {
		if _, err := os.Stat(d); err == nil {
			return true
		}
	}
	return false
}
