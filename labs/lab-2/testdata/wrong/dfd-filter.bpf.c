//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: reports only deletions relative to the working directory
 * (dfd == AT_FDCWD), missing unlinkat with a directory descriptor. */
SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	if (dfd != -100)
		return 0;
	struct event *e = start_event(EVENT_ENTRY);

	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), BPF_CORE_READ(name, name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

CORRECT_KRETPROBE
