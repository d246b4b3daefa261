//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: the target's length and its end "/passwd", never its
 * directory, so /tmp/passwd and /var/passwd count too. */
static const char suffix[] = "/passwd";

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	char name[sizeof(target) + 4] = {};

	if (bpf_probe_read_user_str(name, sizeof(name), (const char *)ctx->args[1]) != sizeof(target))
		return 0;
	for (int i = 0; i < sizeof(suffix); i++)
		if (name[sizeof(target) - sizeof(suffix) + i] != suffix[i])
			return 0;
	report_open(ctx);
	bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
