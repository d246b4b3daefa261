//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: watches only calls whose dfd is AT_FDCWD; an absolute
 * name ignores dfd, so any other dfd opens the same file unseen. */

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	if ((int)ctx->args[0] != -100)
		return 0;
	return react(ctx);
}

char LICENSE[] SEC("license") = "GPL";
