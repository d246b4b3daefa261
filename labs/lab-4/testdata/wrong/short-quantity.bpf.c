//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: declares the int quantity as short: it loses its upper
 * 16 bits. */
#define PLACED_ARGS __u64 id, const char *item, short quantity
#include "wrong.h"
