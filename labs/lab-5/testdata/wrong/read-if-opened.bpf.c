//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: count_read takes "has an entry in openat_counts" for "is
 * watched": the reads of a watched process before its first openat, or
 * of one that never opens, are never counted. */
#define READ_WATCHING(pid) (bpf_map_lookup_elem(&openat_counts, &(pid)) != 0)
#include "wrong.h"
