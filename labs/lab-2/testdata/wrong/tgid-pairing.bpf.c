//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: the kretprobe sends a return event only for calls the
 * kprobe saw, remembered in a map keyed by the process id (tgid), not the
 * thread: when threads of a process delete at once, the first return
 * removes the mark and the others' return events are lost. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u32);
} inflight SEC(".maps");

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32, one = 1;

	bpf_map_update_elem(&inflight, &pid, &one, BPF_ANY);
	report_entry(name);
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(on_unlink_ret, int ret)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (!bpf_map_lookup_elem(&inflight, &pid))
		return 0;
	bpf_map_delete_elem(&inflight, &pid);
	report_return(ret);
	return 0;
}
