//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: hooks vfs_unlink, not the function the lab asks for. */
SEC("kprobe/vfs_unlink")
int BPF_KPROBE(on_unlink)
{
	struct event *e = start_event(EVENT_ENTRY);

	if (!e)
		return 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

CORRECT_KRETPROBE
