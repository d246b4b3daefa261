//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 3 reference solution. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "lab3.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct args {
	__s32 pin;
	char user[USER_LEN];
};

/* Calls in flight, by thread: two threads of one process can be inside
 * check_pin at once, so the key is the whole pid_tgid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct args);
} inflight SEC(".maps");

SEC("uprobe/pinlock:check_pin")
int BPF_KPROBE(on_check_pin, const char *user, int pin)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args a = {.pin = pin};

	/* user points into the process's memory. */
	bpf_probe_read_user_str(a.user, sizeof(a.user), user);
	bpf_map_update_elem(&inflight, &id, &a, BPF_ANY);
	return 0;
}

SEC("uretprobe/pinlock:check_pin")
int BPF_KRETPROBE(on_check_pin_return, int ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args *a = bpf_map_lookup_elem(&inflight, &id);
	struct event *e;

	if (!a)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->pid = id >> 32;
		e->pin = a->pin;
		e->ret = ret;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		__builtin_memcpy(e->user, a->user, sizeof(e->user));
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&inflight, &id);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
