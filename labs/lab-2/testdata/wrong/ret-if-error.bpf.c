//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: the kretprobe sets ret only when the deletion failed, so a
 * success sends whatever the reserved record held. In a ring buffer the
 * kernel has just made that is a zero, the right answer; in one that has
 * gone round it is an older event's bytes. */
CORRECT_KPROBE

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(on_unlink_ret, int ret)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->kind = EVENT_RETURN;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (ret < 0)
		e->ret = ret;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
