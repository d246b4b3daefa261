//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: never deletes a call's entry from the inflight map: once
 * max_entries threads have called check_pin, the map is full and no later
 * call is reported. */
#define NO_DELETE
#include "wrong.h"
