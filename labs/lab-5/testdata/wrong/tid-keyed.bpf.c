//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: counts by thread id, not process id. */
#define COUNT_KEY ((__u32)bpf_get_current_pid_tgid())
#include "wrong.h"
