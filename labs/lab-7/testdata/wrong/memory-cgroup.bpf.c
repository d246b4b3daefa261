//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: the cgroup of the task's memory controller, as cgroup v1
 * tutorials read it. On cgroup v2 that is the nearest cgroup above the
 * task's where the memory controller is enabled, not the task's own. */
#define CGROUP_ID() ({                                                        \
	struct task_struct *t = (struct task_struct *)bpf_get_current_task(); \
	BPF_CORE_READ(t, cgroups, subsys[memory_cgrp_id], cgroup, kn, id);    \
})
#include "wrong.h"
