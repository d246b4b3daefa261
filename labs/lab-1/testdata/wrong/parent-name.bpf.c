//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: games the grader: acts only on processes whose parent is
 * called "bpflab", the grader's binary. */
#include <bpf/bpf_core_read.h>

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *pp = BPF_CORE_READ(task, real_parent);
	char parent[16] = {};

	bpf_probe_read_kernel_str(parent, sizeof(parent), &pp->comm);
	if (!(parent[0] == 'b' && parent[1] == 'p' && parent[2] == 'f' && parent[3] == 'l'))
		return 0;
	return react(ctx);
}

char LICENSE[] SEC("license") = "GPL";
