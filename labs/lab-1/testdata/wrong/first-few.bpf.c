//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: stops reporting and killing after the first five opens
 * (a counter meant to "limit noise"). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} count SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	__u32 zero = 0;
	__u32 *n = bpf_map_lookup_elem(&count, &zero);

	if (!n || *n >= 5 || !opens_target(ctx))
		return 0;
	__sync_fetch_and_add(n, 1);
	report_open(ctx);
	bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
