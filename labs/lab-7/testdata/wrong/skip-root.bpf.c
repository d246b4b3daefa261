//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: "skips the host's noise": nothing from the root cgroup
 * (id 1), where a node's own processes may well open /etc/passwd. */
#define MATCH(ctx) (opens_target(ctx) && bpf_get_current_cgroup_id() != 1)
#include "wrong.h"
