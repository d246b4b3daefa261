//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: reports each order id once, so an order placed again (a
 * retry fires the probe again with the same id) gives no event. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u8);
} seen SEC(".maps");

static __always_inline int first_time(__u64 id)
{
	__u8 yes = 1;

	return bpf_map_update_elem(&seen, &id, &yes, BPF_NOEXIST) == 0;
}

#define PLACED_GATE(id) first_time(id)
#include "wrong.h"
