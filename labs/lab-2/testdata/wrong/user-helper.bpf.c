//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: reads a kernel string with the user-memory helper. */
SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	struct event *e = start_event(EVENT_ENTRY);

	if (!e)
		return 0;
	const char *s = BPF_CORE_READ(name, name);
	bpf_probe_read_user_str(e->path, sizeof(e->path), s);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

CORRECT_KRETPROBE
