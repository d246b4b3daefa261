//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: reports each process name once ("deduplicating"), so a
 * second process with the same name is killed but never reported. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[16]);
	__type(value, __u8);
} seen SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	char comm[16] = {};
	__u8 one = 1;

	if (!opens_target(ctx))
		return 0;
	bpf_get_current_comm(comm, sizeof(comm));
	if (!bpf_map_lookup_elem(&seen, comm)) {
		bpf_map_update_elem(&seen, comm, &one, BPF_ANY);
		report_open(ctx);
	}
	bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
