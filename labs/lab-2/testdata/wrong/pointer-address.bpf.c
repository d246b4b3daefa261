//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: reports the pointer's value, not the string it points to. */
SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	struct event *e = start_event(EVENT_ENTRY);

	if (!e)
		return 0;
	const char *s = BPF_CORE_READ(name, name);
	__builtin_memcpy(e->path, &s, sizeof(s));
	e->path[sizeof(s)] = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

CORRECT_KRETPROBE
