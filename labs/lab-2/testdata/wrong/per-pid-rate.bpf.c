//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: "rm -rf must not flood the ring buffer": at most 20
 * deletions per process per second are reported (entry and return). rm -rf
 * of a tree, the commonest deleter there is, reports 20 files and hides the
 * rest. */
struct win { __u64 start; __u32 n; };
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct win);
} rate SEC(".maps");
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u32);
} muted SEC(".maps");

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, one = 1;
	__u64 now = bpf_ktime_get_ns();
	struct win w = {now, 0}, *p = bpf_map_lookup_elem(&rate, &pid);

	if (!p) {
		bpf_map_update_elem(&rate, &pid, &w, BPF_ANY);
		p = bpf_map_lookup_elem(&rate, &pid);
		if (!p)
			return 0;
	}
	if (now - p->start > 1000000000ULL) {
		p->start = now;
		p->n = 0;
	}
	if (p->n >= 20) {
		bpf_map_update_elem(&muted, &id, &one, BPF_ANY);
		return 0;
	}
	p->n++;
	report_entry(name);
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(on_unlink_ret, int ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (bpf_map_lookup_elem(&muted, &id)) {
		bpf_map_delete_elem(&muted, &id);
		return 0;
	}
	report_return(ret);
	return 0;
}
