/* What the known-wrong programs share with the starter, so that each file
 * shows only its one mistake. (No license here: one file lacks it.) */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lab1.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static const char target[] = "/etc/passwd";

/* The right test: the name as passed is exactly /etc/passwd. */
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

/* The right event: the process id, its comm and the name. */
static __always_inline void report_open(struct trace_event_raw_sys_enter *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)ctx->args[1]);
	bpf_ringbuf_submit(e, 0);
}

/* The right reaction, where the file's mistake lies before it: an open of
 * the target is reported and its process killed. */
static __always_inline int react(struct trace_event_raw_sys_enter *ctx)
{
	if (!opens_target(ctx))
		return 0;
	report_open(ctx);
	bpf_send_signal(9);
	return 0;
}
