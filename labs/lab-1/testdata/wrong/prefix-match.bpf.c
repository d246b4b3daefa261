//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: a prefix match, so /etc/passwdX and /etc/passwd.bak count. */
SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	static const char target[] = "/etc/passwd";
	char name[sizeof(target)] = {};

	/* Reads at most 11 characters: anything longer is cut to the target. */
	bpf_probe_read_user_str(name, sizeof(name), (const char *)ctx->args[1]);
	for (int i = 0; i < sizeof(target) - 1; i++)
		if (name[i] != target[i])
			return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)ctx->args[1]);
	bpf_ringbuf_submit(e, 0);
	bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
