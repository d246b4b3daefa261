package harness

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
)

// ProgramWant says which program a lab expects in the object.
type ProgramWant struct {
	// Sections are the accepted section names, e.g.
	// "tracepoint/syscalls/sys_enter_openat" and its short form; the first
	// is the one hints name. The section also gives the program's type.
	Sections []string
}

// Loaded is a submission's programs and maps in the kernel.
type Loaded struct {
	Coll *ebpf.Collection
	// Prog is the program the lab grades, by the section it wanted.
	Prog map[string]*ebpf.Program
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
	var checks []Check
	spec, err := ebpf.LoadCollectionSpec(obj)
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
	for _, w := range wants {
		for name, p := range spec.Programs {
			for _, s := range w.Sections {
				if p.SectionName == s {
					chosen[w.Sections[0]] = name
				}
			}
		}
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

// Load creates the spec's maps and programs in the kernel. A rejection is
// returned as a failed "verifier" check with the log's tail and a hint.
func Load(spec *ebpf.CollectionSpec, chosen map[string]string) (*Loaded, Check) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, Check{Name: "verifier", Status: Fail, Reason: "cannot lift the memlock limit: " + err.Error()}
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
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{
		Programs: ebpf.ProgramOptions{LogSizeStart: 1 << 20},
	})
	if err != nil {
		return nil, verifierCheck(err)
	}
	l := &Loaded{Coll: coll, Prog: map[string]*ebpf.Program{}}
	for sec, name := range chosen {
		l.Prog[sec] = coll.Programs[name]
	}
	return l, Check{Name: "verifier", Status: Pass, Reason: "the kernel's verifier accepted the program"}
}

func verifierCheck(err error) Check {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		log := strings.Join(ve.Log, "\n")
		return Check{Name: "verifier", Status: Fail,
			Reason: "the verifier rejected the program: " + lastMeaningful(ve.Log),
			Hint:   VerifierHint(log),
			Detail: log}
	}
	return Check{Name: "verifier", Status: Fail, Reason: "loading failed: " + err.Error(), Hint: VerifierHint(err.Error())}
}

// lastMeaningful is the line of the log that says why: the last one that
// is not the summary of processed instructions.
func lastMeaningful(log []string) string {
	for i := len(log) - 1; i >= 0; i-- {
		l := strings.TrimSpace(log[i])
		if l == "" || strings.HasPrefix(l, "processed ") || strings.HasPrefix(l, "verification time") ||
			strings.HasPrefix(l, "stack depth") || strings.HasPrefix(l, "-- END PROG LOAD LOG --") {
			continue
		}
		return l
	}
	return "(empty log)"
}

// hint maps a pattern in the verifier log to advice on the usual cause.
type hint struct {
	re   *regexp.Regexp
	text string
}

var hints = []hint{
	{regexp.MustCompile(`GPL-restricted|gpl_only|non-GPL`),
		`this helper is GPL-only: declare char LICENSE[] SEC("license") = "GPL";`},
	{regexp.MustCompile(`map_value_or_null|ringbuf_mem_or_null|_or_null'`),
		"a pointer that may be NULL is used unchecked: test the result of bpf_map_lookup_elem or bpf_ringbuf_reserve before using it"},
	{regexp.MustCompile(`Unreleased reference|unreleased reference`),
		"a reserved ring buffer record is not released on every path: call bpf_ringbuf_submit or bpf_ringbuf_discard on each one"},
	{regexp.MustCompile(`back-edge|infinite loop|loop is not bounded|BPF program is too large|too many states`),
		"a loop the verifier cannot bound: give every loop a constant upper bound (for (int i = 0; i < N; i++)), or use bpf_loop"},
	{regexp.MustCompile(`combined stack size|stack size of|invalid (write|read) to stack R10 off=-[5-9][0-9][0-9]|stack limit`),
		"the BPF stack is 512 bytes: keep large buffers in the ring buffer record or in a per-CPU array map"},
	{regexp.MustCompile(`unknown func|program of this type cannot use helper|helper call is not allowed`),
		"this helper is not available to this program type on this kernel"},
	{regexp.MustCompile(`invalid mem access 'scalar'|invalid mem access 'inv'|R\d+ invalid mem access|invalid bpf_context access|dereference of modified ctx`),
		"memory is read directly through a pointer: read kernel memory with BPF_CORE_READ or bpf_probe_read_kernel, user memory with bpf_probe_read_user(_str)"},
	{regexp.MustCompile(`invalid indirect read from stack|invalid read from stack`),
		"a stack buffer is passed to a helper before it is initialised: zero it first (char buf[N] = {};)"},
}

// VerifierHint returns a one-line hint for a verifier log, or a general
// one when no known pattern matches.
func VerifierHint(log string) string {
	for _, h := range hints {
		if h.re.MatchString(log) {
			return h.text
		}
	}
	return "read the last lines of the log: the instruction it stopped at and why (--verbose shows the whole log)"
}

// AttachHint explains an attach failure caused by the machine rather than
// the program, or returns "".
func AttachHint(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "tracefs") || strings.Contains(msg, "debugfs"):
		return "tracefs is not mounted on this machine: mount -t tracefs nodev /sys/kernel/tracing (as root), or grade in a VM (without --kernel host)"
	case strings.Contains(msg, "permission denied") || strings.Contains(msg, "operation not permitted"):
		return "attaching needs root (CAP_BPF and CAP_PERFMON): grade in a VM (without --kernel host)"
	}
	return ""
}
