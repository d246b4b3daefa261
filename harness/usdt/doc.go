// Package usdt attaches BPF programs written with libbpf's usdt.bpf.h
// (SEC("usdt") int BPF_USDT(handler, long a, char *b)) to the USDT probes
// of an executable or shared library (sys/sdt.h's DTRACE_PROBEn and
// STAP_PROBEn), with cilium/ebpf, which has no USDT support of its own.
//
// Loading such an object takes three steps more than usual:
//
//	spec, err := usdt.LoadCollectionSpec("lab.bpf.o") // usdt.bpf.h's maps are weak
//	cookies, err := usdt.HaveCookie()                 // in the kernel that runs it
//	err = usdt.Prepare(spec, cookies)                  // sets LINUX_HAS_BPF_COOKIE
//	coll, err := ebpf.NewCollection(spec)
//	m, err := usdt.NewManager(spec, coll.Maps[usdt.SpecsMap], coll.Maps[usdt.IPMap])
//	f, err := usdt.Open("/usr/bin/target")
//	l, err := m.Attach(coll.Programs["handler"], f, "provider", "name", &usdt.Options{PID: pid})
//	defer l.Close()
//
// [Open] reads the probes from the file's .note.stapsdt section and
// computes the file offsets of each probe's nop and semaphore. A probe the
// compiler inlined has several sites; [Manager.Attach] attaches a uprobe to
// each and writes where that site keeps its arguments into the object's
// specs map, which usdt.bpf.h reads. On kernels with BPF cookies (5.15 and
// later) each uprobe's cookie names its entry; on older kernels usdt.bpf.h
// looks the entry up by instruction address, which for a
// position-independent file (PIE, static PIE, shared library) is known
// only in one process: Attach then needs [Options.PID] and reads
// /proc/PID/maps ([ErrNeedPID] otherwise).
//
// It does what libbpf 1.1.2 does and no more: x86-64 files only, one
// uprobe per site (no uprobe_multi link), and the argument forms of
// [ParseArgs]. It refuses a scale-index-base operand ("8@(%rax,%rbx,8)"),
// a symbolic displacement ("-4@counter(%rip)", which gcc writes for a
// global variable when it optimizes), the high byte registers (%ah) and
// unknown registers, naming the probe and the argument ([ErrUnsupported]).
// The layout of the specs map's value is read from the object's BTF, so
// an object built against another usdt.bpf.h fails to attach rather than
// reading garbage. [Prepare] supports objects whose only __kconfig extern
// is LINUX_HAS_BPF_COOKIE.
package usdt
