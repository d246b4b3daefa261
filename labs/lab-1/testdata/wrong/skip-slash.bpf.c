//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: checks the length, "/etc" and "passwd", but never the
 * slash between them, so /etcXpasswd counts too. */
SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	char name[sizeof(target) + 4] = {};

	if (bpf_probe_read_user_str(name, sizeof(name), (const char *)ctx->args[1]) != sizeof(target))
		return 0;
	for (int i = 0; i < sizeof(target); i++)
		if (i != 4 && name[i] != target[i])
			return 0;
	report_open(ctx);
	bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
