//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: compares the length and a sum over the bytes instead of
 * the bytes ("no branch per byte"): the same bytes in another order,
 * /etc/psaswd, match too, and their opener is killed. */
SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	char name[16] = {};
	unsigned int sum = 0, want = 0;

	if (bpf_probe_read_user_str(name, sizeof(name), (const char *)ctx->args[1]) != sizeof(target))
		return 0;
	for (int i = 0; i < sizeof(target); i++) {
		sum += (unsigned char)name[i] * (unsigned char)name[i] + 31u * (unsigned char)name[i];
		want += (unsigned char)target[i] * (unsigned char)target[i] + 31u * (unsigned char)target[i];
	}
	if (sum != want)
		return 0;
	report_open(ctx);
	bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
