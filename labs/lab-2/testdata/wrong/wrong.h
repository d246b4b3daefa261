/* What the known-wrong programs share with the solution, so that each file
 * shows only its one mistake. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lab2.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline struct event *start_event(__u32 kind)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->kind = kind;
	e->ret = 0;
	e->path[0] = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

/* The right events: the deletion at the entry, its result at the return. */
static __always_inline void report_entry(struct filename *name)
{
	struct event *e = start_event(EVENT_ENTRY);

	if (!e)
		return;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), BPF_CORE_READ(name, name));
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void report_return(int ret)
{
	struct event *e = start_event(EVENT_RETURN);

	if (!e)
		return;
	e->ret = ret;
	bpf_ringbuf_submit(e, 0);
}

/* The correct kprobe, for the files whose mistake is in the kretprobe. */
#define CORRECT_KPROBE                                            \
	SEC("kprobe/do_unlinkat")                                 \
	int BPF_KPROBE(on_unlink, int dfd, struct filename *name) \
	{                                                         \
		report_entry(name);                               \
		return 0;                                         \
	}

/* The correct kretprobe, for the files whose mistake is elsewhere. */
#define CORRECT_KRETPROBE                           \
	SEC("kretprobe/do_unlinkat")                \
	int BPF_KRETPROBE(on_unlink_ret, int ret)   \
	{                                           \
		report_return(ret);                 \
		return 0;                           \
	}

char LICENSE[] SEC("license") = "GPL";
