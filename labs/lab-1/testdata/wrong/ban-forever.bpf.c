//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong, and harmful: keeps the id of every opener of /etc/passwd
 * and kills whatever later opens anything under that id ("make sure it
 * stays dead"). The kernel gives an ended process's id to a new one,
 * which is then killed at its first open of any file. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} banned SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u8 one = 1;

	if (bpf_map_lookup_elem(&banned, &pid))
		bpf_send_signal(9);
	if (!opens_target(ctx))
		return 0;
	bpf_map_update_elem(&banned, &pid, &one, BPF_ANY);
	report_open(ctx);
	bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
