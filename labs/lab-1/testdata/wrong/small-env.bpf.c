//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include <bpf/bpf_core_read.h>
#include "wrong.h"

/* Known wrong, gaming: acts only on processes whose environment is under
 * 256 bytes, taking them for a grader's bare test processes. A process a
 * shell starts has a larger one. */
SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	unsigned long start = BPF_CORE_READ(t, mm, env_start), end = BPF_CORE_READ(t, mm, env_end);

	if (end - start >= 256)
		return 0;
	return react(ctx);
}

char LICENSE[] SEC("license") = "GPL";
