//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: copies a fixed 16 bytes with bpf_probe_read_user instead of
 * the string with bpf_probe_read_user_str. A name that ends a page whose
 * next page is not mapped makes the copy fail: that open goes unseen. */
SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	char name[16];

	if (bpf_probe_read_user(name, sizeof(name), (const char *)ctx->args[1]))
		return 0;
	for (int i = 0; i < sizeof(target); i++)
		if (name[i] != target[i])
			return 0;
	report_open(ctx);
	bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
