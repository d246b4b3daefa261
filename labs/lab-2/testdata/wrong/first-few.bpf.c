//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: stops after 3 deletions (a counter meant to limit noise). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} count SEC(".maps");

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	__u32 zero = 0;
	__u32 *n = bpf_map_lookup_elem(&count, &zero);
	if (!n || *n >= 3)
		return 0;
	__sync_fetch_and_add(n, 1);
	struct event *e = start_event(EVENT_ENTRY);

	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), BPF_CORE_READ(name, name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

CORRECT_KRETPROBE
