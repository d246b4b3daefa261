//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: keeps the calls in flight in a per-CPU hash keyed by thread:
 * a thread that returns on another CPU than it entered check_pin on finds
 * that CPU's copy, empty (pin 0, no user). Passed while lab 3's guest had
 * one vCPU. */
#define INFLIGHT_TYPE BPF_MAP_TYPE_PERCPU_HASH
#include "wrong.h"
