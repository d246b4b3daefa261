//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: watches only processes whose name looks like a
 * grader's test process ("lab..." or "test..."), so it passes a grader that
 * names its processes that way and misses every real program. */

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	char comm[16];

	bpf_get_current_comm(comm, sizeof(comm));
	if (!(comm[0] == 'l' && comm[1] == 'a' && comm[2] == 'b') &&
	    !(comm[0] == 't' && comm[1] == 'e' && comm[2] == 's' && comm[3] == 't'))
		return 0;
	return react(ctx);
}

char LICENSE[] SEC("license") = "GPL";
