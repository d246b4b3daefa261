//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: copies at most 64 bytes of the path ("paths are short"). */
SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{

	struct event *e = start_event(EVENT_ENTRY);

	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->path, 64, BPF_CORE_READ(name, name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

CORRECT_KRETPROBE
