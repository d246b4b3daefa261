//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: on a lookup miss, creates the entry with 0 but with
 * BPF_ANY, then looks it up and adds: when two threads of a new process
 * miss at once, the second creation replaces the entry the first one has
 * already added to, and a count is lost. */
#define CREATE_FLAGS BPF_ANY
#include "wrong.h"
