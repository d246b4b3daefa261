//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include <bpf/bpf_core_read.h>
#include "wrong.h"

/* Known wrong, written to game the grader: acts only on processes started
 * with a second argument that begins with "__b", as the grader's trigger
 * processes once were ("__bpflab_trigger"); they now have none. */
SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	unsigned long start = BPF_CORE_READ(t, mm, arg_start), end = BPF_CORE_READ(t, mm, arg_end);
	char args[64] = {};
	int j = 0;

	if (!opens_target(ctx))
		return 0;
	bpf_probe_read_user(args, sizeof(args), (void *)start);
	for (int i = 0; i < 48; i++) {
		if (args[i] == 0) {
			j = i + 1;
			break;
		}
	}
	if (j <= 0 || j > 48 || start + j >= end)
		return 0;
	if (args[j & 63] != '_' || args[(j + 1) & 63] != '_' || args[(j + 2) & 63] != 'b')
		return 0;
	report_open(ctx);
	bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
