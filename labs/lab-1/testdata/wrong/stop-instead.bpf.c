//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: sends SIGSTOP (19) instead of SIGKILL: the process
 * stops, holding the file open, and can be resumed. */

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	if (!opens_target(ctx))
		return 0;
	report_open(ctx);
	bpf_send_signal(19);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
