//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 5: count in the kernel, not per event.
 *
 * For every process in `watched` (lab5.h), count
 *   - its openat(2) calls, in openat_counts[process id], and
 *   - the byte counts it passes to read(2), as a histogram: read_sizes[slot]
 *     counts the reads whose count falls in that slot (size_slot in lab5.h).
 * The grader reads both maps when the processes are done. Their threads run
 * on several CPUs at once: every increment must survive that.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lab5.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);    /* process id */
	__type(value, __u64);  /* openat calls */
} openat_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HIST_SLOTS);
	__type(key, __u32);    /* slot */
	__type(value, __u64);  /* reads */
} read_sizes SEC(".maps");

/* ksyscall/NAME: a kprobe on the system call's entry; BPF_KSYSCALL gives
 * the call's own arguments. */
SEC("ksyscall/openat")
int BPF_KSYSCALL(count_openat, int dfd, const char *filename)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (!bpf_map_lookup_elem(&watched, &pid))
		return 0;
	/* TODO: add one to openat_counts[pid], creating the entry the first
	 * time. */
	return 0;
}

SEC("ksyscall/read")
int BPF_KSYSCALL(count_read, unsigned int fd, char *buf, size_t count)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (!bpf_map_lookup_elem(&watched, &pid))
		return 0;
	/* TODO: add one to read_sizes[size_slot(count)]. */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
