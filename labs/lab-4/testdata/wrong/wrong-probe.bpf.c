//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: reports orders:cancelled, whose arguments are placed's. */
#define PLACED_SEC "usdt/orders:orders:cancelled"
#include "wrong.h"
