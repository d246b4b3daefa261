//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: an old attempt left in the file, on the same hook (the
 * short form of the section). Both would run on every openat; it kills
 * every opener of any file. */
SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	return react(ctx);
}

SEC("tp/syscalls/sys_enter_openat")
int old_attempt(struct trace_event_raw_sys_enter *ctx)
{
	bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
