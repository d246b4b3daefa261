//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: no license, and bpf_probe_read_user_str is GPL-only. */
SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	char name[16];

	bpf_probe_read_user_str(name, sizeof(name), (const char *)ctx->args[1]);
	return 0;
}
