//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: on a lookup miss, creates the entry with 1 (BPF_ANY): two
 * threads of a new process that miss at once both write 1, and a count is
 * lost. */
#define CREATE_WITH_ONE
#include "wrong.h"
