//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: reports at most 20 calls of each process: a brute force,
 * one process trying PIN after PIN, goes unreported after its 20th. */
#define MAX_PER_PROCESS 20
#include "wrong.h"
