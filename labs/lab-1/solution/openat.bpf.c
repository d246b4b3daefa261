//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 1 reference solution. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lab1.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static const char target[] = "/etc/passwd";

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	const char *filename = (const char *)ctx->args[1];
	/* Longer than the target, so a longer name cannot pass as it. */
	char name[sizeof(target) + 4] = {};
	long n = bpf_probe_read_user_str(name, sizeof(name), filename);

	if (n != sizeof(target))
		return 0;
	for (int i = 0; i < sizeof(target); i++)
		if (name[i] != target[i])
			return 0;

	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->path, sizeof(e->path), filename);
	bpf_ringbuf_submit(e, 0);

	/* Part 2: react. The signal is delivered before openat returns to
	 * user space, so the process never reads a byte. */
	bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
