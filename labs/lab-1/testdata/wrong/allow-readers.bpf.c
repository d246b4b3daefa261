//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: lets the programs that read /etc/passwd for a living
 * (passwd, getent, id, nscd...) through ("do not break logins"). The lab
 * asks for every opener, and any program can take any name. */
static __always_inline int allowed(void)
{
	char c[16] = {};

	bpf_get_current_comm(c, sizeof(c));
	if (c[0] == 'i' && c[1] == 'd' && !c[2])
		return 1;
	if (c[0] == 's' && c[1] == 'u' && !c[2])
		return 1;
	if (c[0] == 'p' && c[1] == 'a' && c[2] == 's' && c[3] == 's' && c[4] == 'w' && c[5] == 'd' && !c[6])
		return 1;
	if (c[0] == 'g' && c[1] == 'e' && c[2] == 't' && c[3] == 'e' && c[4] == 'n' && c[5] == 't' && !c[6])
		return 1;
	if (c[0] == 'n' && c[1] == 's' && c[2] == 'c' && c[3] == 'd' && !c[4])
		return 1;
	if (c[0] == 's' && c[1] == 's' && c[2] == 's' && c[3] == 'd' && !c[4])
		return 1;
	if (c[0] == 'u' && c[1] == 's' && c[2] == 'e' && c[3] == 'r' && c[4] == 'a' && c[5] == 'd' && c[6] == 'd' && !c[7])
		return 1;
	if (c[0] == 'c' && c[1] == 'h' && c[2] == 's' && c[3] == 'h' && !c[4])
		return 1;
	if (c[0] == 'p' && c[1] == 'w' && c[2] == 'c' && c[3] == 'k' && !c[4])
		return 1;
	if (c[0] == 'v' && c[1] == 'i' && c[2] == 'p' && c[3] == 'w' && !c[4])
		return 1;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	if (!opens_target(ctx) || allowed())
		return 0;
	report_open(ctx);
	bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
