//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: reports right, but kills every process that opens any
 * file ("kill first, ask later"), the grader's helpers included. */

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	bpf_send_signal(9);
	if (opens_target(ctx))
		report_open(ctx);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
