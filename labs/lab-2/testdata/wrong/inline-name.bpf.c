//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: copies struct filename's inline buffer, name->iname,
 * instead of the string name->name points to. They are the same for
 * names shorter than EMBEDDED_NAME_MAX (about 4 KiB); for a longer name
 * the kernel keeps the string apart and iname holds nothing: the path
 * reads empty. */
SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	struct event *e = start_event(EVENT_ENTRY);
	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), &name->iname[0]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
CORRECT_KRETPROBE
