//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: keeps each process's cgroup id by its process id, looked up
 * once ("a process stays in its pod"). The kernel gives an ended process's
 * id to a new one, in any cgroup: its events name the first one's. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} cgroup_of SEC(".maps");

static __always_inline __u64 cached_cgroup_id(void)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 *id = bpf_map_lookup_elem(&cgroup_of, &pid);
	__u64 now;

	if (id)
		return *id;
	now = bpf_get_current_cgroup_id();
	bpf_map_update_elem(&cgroup_of, &pid, &now, BPF_ANY);
	return now;
}

#define CGROUP_ID() cached_cgroup_id()
#include "wrong.h"
