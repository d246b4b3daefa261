//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: sends 32 records for every open of every file (leftover
 * debugging), filling the ring buffer, besides the right one. */

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	for (int k = 0; k < 32; k++)
		report_open(ctx);
	return react(ctx);
}

char LICENSE[] SEC("license") = "GPL";
