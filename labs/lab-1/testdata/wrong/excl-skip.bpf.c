//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: skips opens with O_EXCL or O_TRUNC ("O_EXCL cannot open a
 * file that exists; O_TRUNC is a writer"). The call is still an open of
 * /etc/passwd, and O_WRONLY|O_TRUNC would empty it. */
SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2] & (00200 | 01000)) /* O_EXCL | O_TRUNC */
		return 0;
	return react(ctx);
}

char LICENSE[] SEC("license") = "GPL";
