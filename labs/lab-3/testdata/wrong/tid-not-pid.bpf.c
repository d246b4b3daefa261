//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: reports the thread id as the process id. */
#define PID_OF(id) ((__u32)(id))
#include "wrong.h"
