//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: declares the 64-bit order id as 32 bits. */
#define PLACED_ARGS __u32 id, const char *item, int quantity
#include "wrong.h"
