//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: names the arguments in the wrong order. */
#define PLACED_ARGS __u64 id, int quantity, const char *item
#include "wrong.h"
