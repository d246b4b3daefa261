//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: at most 32 placed events a process, "so that a runaway
 * process cannot flood the ring buffer": a busy process's later orders
 * give no event. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} sent SEC(".maps");

static __always_inline int under_cap(void)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32, one = 1, *n;

	n = bpf_map_lookup_elem(&sent, &pid);
	if (!n)
		return bpf_map_update_elem(&sent, &pid, &one, BPF_NOEXIST) == 0;
	if (*n >= 32)
		return 0;
	__sync_fetch_and_add(n, 1);
	return 1;
}

#define PLACED_GATE(id) ((void)(id), under_cap())
#include "wrong.h"
