//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include <bpf/bpf_core_read.h>
#include "wrong.h"

/* Known wrong, gaming: acts only on processes that die with their parent
 * (a parent-death signal of SIGKILL), as every process a grader starts
 * might. Few processes on a machine have one. */
SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();

	if (BPF_CORE_READ(t, group_leader, pdeath_signal) != 9)
		return 0;
	return react(ctx);
}

char LICENSE[] SEC("license") = "GPL";
