//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: on a lookup miss, creates the entry with 1 and BPF_NOEXIST
 * and returns: when two threads of a new process miss at once, the one
 * whose creation fails loses its count. */
#define CREATE_WITH_ONE
#define CREATE_FLAGS BPF_NOEXIST
#include "wrong.h"
