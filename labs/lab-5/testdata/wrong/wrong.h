/* The reference solution with knobs, so that each known-wrong program
 * shows only its one mistake: it defines a knob, then includes this file.
 *
 *   ADD_ONE(v)          how a counter is incremented (COUNT_ADD for
 *                       openat_counts, HIST_ADD for read_sizes)
 *   COUNT_KEY           the key of openat_counts
 *   WATCHING(pid)       whether a process is counted
 *   READ_WATCHING(pid)  whether a process's reads are counted (default:
 *                       WATCHING)
 *   OPEN_COUNTED(dfd, flags)  whether an openat with these arguments is
 *                       counted
 *   SLOT(fd, count)     the histogram slot of a read (HIST_SLOTS or more:
 *                       none, the read is not counted)
 *   COUNT_ENTRIES       max_entries of openat_counts
 *   CREATE_WITH_ONE     on a lookup miss, create the entry with 1
 *                       (BPF_ANY) and return, instead of creating it
 *                       with 0 (BPF_NOEXIST), looking up again and adding
 *   CREATE_FLAGS        the flags of that creation (BPF_NOEXIST, or
 *                       BPF_ANY with CREATE_WITH_ONE)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lab5.h"

#ifndef ADD_ONE
#define ADD_ONE(v) __sync_fetch_and_add(v, 1)
#endif
#ifndef COUNT_ADD
#define COUNT_ADD(v) ADD_ONE(v)
#endif
#ifndef HIST_ADD
#define HIST_ADD(v) ADD_ONE(v)
#endif
#ifndef COUNT_KEY
#define COUNT_KEY (bpf_get_current_pid_tgid() >> 32)
#endif
#ifndef WATCHING
#define WATCHING(pid) (bpf_map_lookup_elem(&watched, &(pid)) != 0)
#endif
#ifndef SLOT
#define SLOT(fd, count) size_slot(count)
#endif
#ifndef READ_WATCHING
#define READ_WATCHING(pid) WATCHING(pid)
#endif
#ifndef OPEN_COUNTED
#define OPEN_COUNTED(dfd, flags) 1
#endif
#ifndef COUNT_ENTRIES
#define COUNT_ENTRIES 4096
#endif
#ifndef CREATE_FLAGS
#ifdef CREATE_WITH_ONE
#define CREATE_FLAGS BPF_ANY
#else
#define CREATE_FLAGS BPF_NOEXIST
#endif
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, COUNT_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} openat_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HIST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} read_sizes SEC(".maps");

SEC("ksyscall/openat")
int BPF_KSYSCALL(count_openat, int dfd, const char *filename, int flags)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32, key = COUNT_KEY;
	__u64 zero = 0, *n;

	if (!OPEN_COUNTED(dfd, flags))
		return 0;
	if (!WATCHING(pid))
		return 0;
	n = bpf_map_lookup_elem(&openat_counts, &key);
	if (!n) {
#ifdef CREATE_WITH_ONE
		__u64 one = 1;

		bpf_map_update_elem(&openat_counts, &key, &one, CREATE_FLAGS);
		return 0;
#endif
		bpf_map_update_elem(&openat_counts, &key, &zero, CREATE_FLAGS);
		n = bpf_map_lookup_elem(&openat_counts, &key);
		if (!n)
			return 0;
	}
	COUNT_ADD(n);
	return 0;
}

SEC("ksyscall/read")
int BPF_KSYSCALL(count_read, unsigned int fd, char *buf, size_t count)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32, slot = SLOT(fd, count);
	__u64 *n;

	if (!READ_WATCHING(pid))
		return 0;
	n = bpf_map_lookup_elem(&read_sizes, &slot);
	if (n)
		HIST_ADD(n);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
