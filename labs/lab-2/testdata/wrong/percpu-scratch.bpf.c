//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: the kprobe copies the path into a per-CPU scratch slot and
 * the kretprobe sends the entry event from it. A task that sleeps in
 * do_unlinkat (on a lock) lets another task unlink on this CPU meanwhile,
 * or comes back on another CPU: the path is another call's, or none. */
struct scratch { __u32 valid; char path[PATH_LEN]; };
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} buf SEC(".maps");

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&buf, &zero);
	if (!s)
		return 0;
	bpf_probe_read_kernel_str(s->path, sizeof(s->path), BPF_CORE_READ(name, name));
	s->valid = 1;
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(on_unlink_ret, int ret)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&buf, &zero);
	struct event *e;

	if (s && s->valid) {
		e = start_event(EVENT_ENTRY);
		if (e) {
			__builtin_memcpy(e->path, s->path, sizeof(e->path));
			bpf_ringbuf_submit(e, 0);
		}
		s->valid = 0;
	}
	e = start_event(EVENT_RETURN);
	if (!e)
		return 0;
	e->ret = ret;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
