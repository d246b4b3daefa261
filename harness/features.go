package harness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// Feature is something of the kernel's a lab needs: a program type, a
// helper, a map type, a kind of probe, an active LSM. A lab lists its
// features in [Lab.Features]; the "kernel" check probes each in the
// running kernel before anything is loaded.
//
// A kernel without a feature skips the lab when it is older than Since:
// that kernel cannot run it, and the report says why. A kernel as new as
// Since that lacks it fails the check: the kernel's build (or the guest
// bpflab made of it) lost something it should have, and a grade on it
// would mean nothing. The host's own kernel (--kernel host) is not one
// bpflab chose, so there it is a skip naming the fix.
type Feature struct {
	// Name says what the feature is, in words: "BPF ring buffer maps".
	Name string
	// Since is the first upstream kernel version that has it ("5.8").
	Since string
	// Fix says what gives a kernel of that version the feature: the
	// config option, the boot parameter.
	Fix string
	// Probe returns nil when the running kernel has the feature, an error
	// wrapping [ebpf.ErrNotSupported] when it does not, and another error
	// when it cannot tell.
	Probe func() error
}

// The features the labs need, probed as cilium/ebpf's own tests probe
// them.
var (
	FeatureTracepoint = Feature{Name: "tracepoint programs", Since: "4.7",
		Fix: "CONFIG_BPF_EVENTS and CONFIG_FTRACE_SYSCALLS", Probe: tracepointProbe}
	FeatureKprobe = Feature{Name: "kprobes and kprobe programs", Since: "4.1",
		Fix: "CONFIG_KPROBES and CONFIG_KPROBE_EVENTS", Probe: kprobeProbe}
	FeatureUprobe = Feature{Name: "uprobes", Since: "4.17",
		Fix: "CONFIG_UPROBES and CONFIG_UPROBE_EVENTS", Probe: uprobeProbe}
	FeatureRingBuf = Feature{Name: "BPF ring buffer maps", Since: "5.8",
		Fix: "a 5.8 or later kernel with CONFIG_BPF_SYSCALL", Probe: func() error { return features.HaveMapType(ebpf.RingBuf) }}
	FeatureBTF = Feature{Name: "the kernel's BTF (/sys/kernel/btf/vmlinux)", Since: "5.4",
		Fix: "CONFIG_DEBUG_INFO_BTF", Probe: btfProbe}
	FeatureLSMPrograms = Feature{Name: "BPF LSM programs", Since: "5.7",
		Fix: "CONFIG_BPF_LSM", Probe: func() error { return features.HaveProgramType(ebpf.LSM) }}
	// FeatureBPFLSMActive implies FeatureLSMPrograms (bpf is an LSM only
	// in kernels built with CONFIG_BPF_LSM), and costs nothing to probe;
	// FeatureLSMPrograms loads the kernel's BTF (0.3 s under TCG).
	FeatureBPFLSMActive = Feature{Name: "bpf among the active LSMs", Since: "5.7",
		Fix: "CONFIG_BPF_LSM, and lsm=...,bpf on the kernel's command line (bpflab's guests boot with it)", Probe: bpfLSMProbe}
	FeatureCgroup2 = Feature{Name: "cgroup v2 at /sys/fs/cgroup", Since: "4.5",
		Fix: "CONFIG_CGROUPS, and the unified hierarchy mounted at /sys/fs/cgroup", Probe: cgroup2Probe}
)

// FeatureHelper is the helper fn (bpf_send_signal, added in since) in
// programs of type pt.
func FeatureHelper(pt ebpf.ProgramType, fn asm.BuiltinFunc, since string) Feature {
	name := strings.TrimPrefix(fn.String(), "Fn")
	var snake []rune
	for i, r := range name {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				snake = append(snake, '_')
			}
			r += 'a' - 'A'
		}
		snake = append(snake, r)
	}
	return Feature{
		Name:  fmt.Sprintf("the helper bpf_%s in %s programs", string(snake), strings.ToLower(pt.String())),
		Since: since,
		Fix:   "a kernel of version " + since + " or later",
		Probe: func() error { return features.HaveProgramHelper(pt, fn) },
	}
}

func tracepointProbe() error {
	if err := features.HaveProgramType(ebpf.TracePoint); err != nil {
		return err
	}
	if !tracefsMounted() {
		return errors.New("tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing (as root)")
	}
	return anyExists("syscall tracepoints", "/sys/kernel/tracing/events/syscalls", "/sys/kernel/debug/tracing/events/syscalls")
}

func kprobeProbe() error {
	if err := features.HaveProgramType(ebpf.Kprobe); err != nil {
		return err
	}
	return anyExists("kprobes", "/sys/bus/event_source/devices/kprobe", "/sys/kernel/tracing/kprobe_events", "/sys/kernel/debug/tracing/kprobe_events")
}

func uprobeProbe() error {
	return anyExists("uprobes", "/sys/bus/event_source/devices/uprobe", "/sys/kernel/tracing/uprobe_events", "/sys/kernel/debug/tracing/uprobe_events")
}

// btfProbe looks for the file only: the loader parses it anyway, and
// parsing it once more costs a quarter of a second under TCG.
func btfProbe() error {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: no /sys/kernel/btf/vmlinux", ebpf.ErrNotSupported)
		}
		return err
	}
	return nil
}

func bpfLSMProbe() error {
	b, err := os.ReadFile("/sys/kernel/security/lsm")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: no /sys/kernel/security/lsm (securityfs)", ebpf.ErrNotSupported)
		}
		return err
	}
	active := strings.TrimSpace(string(b))
	if !strings.Contains(","+active+",", ",bpf,") {
		return fmt.Errorf("%w: active LSMs are %q", ebpf.ErrNotSupported, active)
	}
	return nil
}

func cgroup2Probe() error {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return fmt.Errorf("%w: %v", ebpf.ErrNotSupported, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("%w: /sys/fs/cgroup is not a cgroup2 file system", ebpf.ErrNotSupported)
	}
	return nil
}

// anyExists is nil when one of paths exists.
func anyExists(what string, paths ...string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: no %s (none of %s)", ebpf.ErrNotSupported, what, strings.Join(paths, ", "))
}

// KernelOlder reports whether kernel version a ("6.1.176-1",
// "5.10.0-35-cloud-amd64") is older than b ("5.10"), by major and minor
// number.
func KernelOlder(a, b string) bool {
	pa, pb := majorMinor(a), majorMinor(b)
	return pa[0] < pb[0] || pa[0] == pb[0] && pa[1] < pb[1]
}

func majorMinor(v string) [2]int {
	var out [2]int
	f := strings.FieldsFunc(v, func(r rune) bool { return r == '-' || r == '+' || r == '~' })
	if len(f) == 0 {
		return out
	}
	for i, n := range strings.SplitN(f[0], ".", 3) {
		if i < 2 {
			out[i], _ = strconv.Atoi(n)
		}
	}
	return out
}

// Missing are the lab's features a kernel of version release cannot have
// (older than their Since), and the lab's minimum version when the kernel
// is older: what 'bpflab labs' shows before anything boots.
func (l *Lab) Missing(release string) []string {
	var out []string
	if l.MinKernel != "" && KernelOlder(release, l.MinKernel) {
		out = append(out, "kernel "+l.MinKernel+"+")
	}
	for _, f := range l.Features {
		if KernelOlder(release, f.Since) {
			out = append(out, fmt.Sprintf("%s (%s+)", f.Name, f.Since))
		}
	}
	return out
}

// kernelCheck is the "kernel" check of a lab on the running kernel
// (version release; guest: one bpflab booted), with probe run for each
// feature. skip is true when the lab cannot be graded here and every
// other check is a skip.
func kernelCheck(l *Lab, release string, guest bool, probe func(Feature) error) (c Check, skip bool) {
	c.Name = "kernel"
	if l.MinKernel != "" && KernelOlder(release, l.MinKernel) {
		c.Status, c.Reason = Skip, fmt.Sprintf("%s grades on kernels %s and later; this one is %s: choose another with --kernel (bpflab kernels lists them)", l.ID, l.MinKernel, release)
		return c, true
	}
	var have, skips, unknown, fails []string
	for _, f := range l.Features {
		err := probe(f)
		switch {
		case err == nil:
			have = append(have, f.Name)
		case !errors.Is(err, ebpf.ErrNotSupported) && guest:
			fails = append(fails, fmt.Sprintf("cannot tell whether the kernel has %s: %v", f.Name, err))
		case !errors.Is(err, ebpf.ErrNotSupported):
			// The host's kernel may refuse a probe to a process without
			// every capability (an LSM program needs CAP_MAC_ADMIN).
			unknown = append(unknown, fmt.Sprintf("%s (%v)", f.Name, err))
		case KernelOlder(release, f.Since):
			skips = append(skips, fmt.Sprintf("%s (kernels have them since %s)", f.Name, f.Since))
		case !guest:
			skips = append(skips, fmt.Sprintf("%s (needs %s)", f.Name, f.Fix))
		default:
			fails = append(fails, fmt.Sprintf("kernel %s has no %s, which every kernel since %s should have (%s): %v", release, f.Name, f.Since, f.Fix, err))
		}
	}
	switch {
	case len(fails) > 0:
		c.Status, c.Reason = Fail, strings.Join(fails, "; ")
		c.Hint = "this is the kernel's fault, not your program's: grade on another kernel (--kernel ALIAS, bpflab kernels lists them) and tell whoever runs bpflab here"
		return c, false
	case len(skips)+len(unknown) > 0:
		where := "this kernel"
		if !guest {
			where = "the host's kernel (grade in a VM, without --kernel host)"
		}
		var why []string
		if len(skips) > 0 {
			why = append(why, "it lacks "+strings.Join(skips, ", "))
		}
		if len(unknown) > 0 {
			why = append(why, "bpflab cannot tell whether it has "+strings.Join(unknown, ", "))
		}
		c.Status, c.Reason = Skip, fmt.Sprintf("%s cannot grade %s: %s", where, l.ID, strings.Join(why, "; "))
		return c, true
	}
	c.Status, c.Reason = Pass, "kernel "+release
	if len(have) > 0 {
		c.Reason += " has " + strings.Join(have, ", ")
	}
	return c, false
}

// kernelChecked is a "kernel" check made once for several submissions.
type kernelChecked struct {
	Check Check `json:"check"`
	Skip  bool  `json:"skip"`
	// Symbol is the first of the lab's [Lab.Symbols] the kernel has, or
	// "" and NoSymbol says why.
	Symbol   string `json:"symbol,omitempty"`
	NoSymbol string `json:"noSymbol,omitempty"`
}

// kernelCheckEnv carries a kernelChecked from the guest's grader to its
// workers, as JSON.
const kernelCheckEnv = "BPFLAB_KERNEL_CHECK"

// probeKernel makes lab's "kernel" check on the running kernel.
func probeKernel(l *Lab) kernelChecked {
	c, skip := kernelCheck(l, release(), os.Getenv("BPFLAB_GUEST") == "1", probeFeature)
	k := kernelChecked{Check: c, Skip: skip}
	if len(l.Symbols) > 0 && c.Status == Pass {
		var err error
		if k.Symbol, err = KernelSymbol(l.Symbols); err != nil {
			k.NoSymbol = err.Error()
		}
	}
	return k
}

// KernelSymbol returns the first of names that the running kernel's
// symbol table (/proc/kallsyms) lists.
func KernelSymbol(names []string) (string, error) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return "", fmt.Errorf("reading the kernel's symbol table: %w", err)
	}
	defer f.Close()
	return FirstSymbol(f, names)
}

// FirstSymbol returns the first of names that a symbol table in the
// format of /proc/kallsyms ("address type name", then a tab and the
// module for a module's symbol) lists. It reads no further than it must:
// once it has seen names[0], the rest cannot change the answer.
func FirstSymbol(r io.Reader, names []string) (string, error) {
	best := len(names)
	br := bufio.NewReaderSize(r, 64<<10)
	for best > 0 {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// No symbol is that long: skip the rest of the line.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if len(line) > 0 {
			if i := symbolIndex(line, names[:best]); i >= 0 {
				best = i
			}
		}
		if err != nil {
			break
		}
	}
	if best < len(names) {
		return names[best], nil
	}
	return "", fmt.Errorf("none of %s is in the kernel's symbol table", strings.Join(names, ", "))
}

// symbolIndex is the index in names of line's symbol name, or -1.
func symbolIndex(line []byte, names []string) int {
	// The name is the third field: after two spaces, up to a tab (a
	// module's symbol) or the line's end.
	for range 2 {
		i := bytes.IndexByte(line, ' ')
		if i < 0 {
			return -1
		}
		line = line[i+1:]
	}
	if i := bytes.IndexAny(line, "\t\n"); i >= 0 {
		line = line[:i]
	}
	for i, n := range names {
		if string(line) == n {
			return i
		}
	}
	return -1
}

// checkedKernel is the "kernel" check the grader handed down, or a new
// one when there is none.
func checkedKernel(l *Lab) kernelChecked {
	var k kernelChecked
	if v := os.Getenv(kernelCheckEnv); v != "" && json.Unmarshal([]byte(v), &k) == nil && k.Check.Name == "kernel" {
		return k
	}
	return probeKernel(l)
}

// probeFeature runs f's probe.
func probeFeature(f Feature) error { return f.Probe() }

// release is the running kernel's version.
func release() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
