//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: reports the thread id as the process id. */
#define PID ((__u32)bpf_get_current_pid_tgid())
#include "wrong.h"
