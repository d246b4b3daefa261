//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: declares the return value long; the function returns int,
 * so -2 arrives as 4294967294. */
SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{

	struct event *e = start_event(EVENT_ENTRY);

	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), BPF_CORE_READ(name, name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(on_unlink_ret, long ret)
{
	struct event *e = start_event(EVENT_RETURN);

	if (!e)
		return 0;
	e->ret = (__u32)ret;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
