//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: watches only opens for reading (flags without O_WRONLY or
 * O_RDWR), as if only reading the file mattered. */

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2] & 3)
		return 0;
	return react(ctx);
}

char LICENSE[] SEC("license") = "GPL";
