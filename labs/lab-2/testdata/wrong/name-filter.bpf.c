//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: games the grader, watching only processes whose name
 * starts with "lab" (as its test processes used to be called). */
SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	char comm[16];
	bpf_get_current_comm(comm, sizeof(comm));
	if (comm[0] != 'l' || comm[1] != 'a' || comm[2] != 'b')
		return 0;
	struct event *e = start_event(EVENT_ENTRY);

	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), BPF_CORE_READ(name, name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

CORRECT_KRETPROBE
