//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: reports the thread id (the lower half of pid_tgid) as the
 * pid, in both events. Right for single-threaded processes only. */
static __always_inline void fix_pid(struct event *e)
{
	e->pid = (__u32)bpf_get_current_pid_tgid();
}

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	struct event *e = start_event(EVENT_ENTRY);

	if (!e)
		return 0;
	fix_pid(e);
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), BPF_CORE_READ(name, name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(on_unlink_ret, int ret)
{
	struct event *e = start_event(EVENT_RETURN);

	if (!e)
		return 0;
	fix_pid(e);
	e->ret = ret;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
