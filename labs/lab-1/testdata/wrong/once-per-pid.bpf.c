//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: reports each process id once, and never forgets it ("no
 * duplicate reports when threads race"). The kernel reuses the id of a
 * process that ended: the next process to get it is killed but never
 * reported. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} reported SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u8 one = 1;

	if (!opens_target(ctx))
		return 0;
	if (!bpf_map_lookup_elem(&reported, &pid)) {
		bpf_map_update_elem(&reported, &pid, &one, BPF_ANY);
		report_open(ctx);
	}
	bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
