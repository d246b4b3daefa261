/* What the known-wrong programs share, so that each file shows only its
 * one mistake: CGROUP_ID() is how it finds the cgroup id, MATCH() whether
 * it reports an open. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "lab7.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static const char target[] = "/etc/passwd";

static __always_inline int opens_target(struct trace_event_raw_sys_enter *ctx)
{
	char name[sizeof(target) + 4] = {};

	if (bpf_probe_read_user_str(name, sizeof(name), (const char *)ctx->args[1]) != sizeof(target))
		return 0;
	for (int i = 0; i < sizeof(target); i++)
		if (name[i] != target[i])
			return 0;
	return 1;
}

#ifndef CGROUP_ID
#define CGROUP_ID() bpf_get_current_cgroup_id()
#endif
#ifndef MATCH
#define MATCH(ctx) opens_target(ctx)
#endif

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	if (!MATCH(ctx))
		return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->cgroup_id = CGROUP_ID();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
