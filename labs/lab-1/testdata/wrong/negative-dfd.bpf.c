//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: skips a negative dfd other than AT_FDCWD ("not a
 * descriptor, the call fails"). For an absolute name the kernel never
 * looks at dfd: openat(-2, "/etc/passwd", ...) opens it. */
SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	int dfd = (int)ctx->args[0];

	if (dfd < 0 && dfd != -100)
		return 0;
	return react(ctx);
}

char LICENSE[] SEC("license") = "GPL";
