//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: matches names that end in "/passwd", so /tmp/etc/passwd
 * and /etc/./passwd count too. */
static const char suffix[] = "/passwd";

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	char name[64] = {};
	long n = bpf_probe_read_user_str(name, sizeof(name), (const char *)ctx->args[1]);
	if (n < (long)sizeof(suffix) || n > (long)sizeof(name))
		return 0;
	for (int i = 0; i < sizeof(suffix) - 1; i++) {
		long j = n - (long)sizeof(suffix) + i;
		if (j < 0 || j >= (long)sizeof(name) || name[j] != suffix[i])
			return 0;
	}
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
