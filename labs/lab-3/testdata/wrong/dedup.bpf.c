//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: reports a repeated attempt (same process, user and pin)
 * only once: the same PIN tried twice is two calls. */
#define DEDUP
#include "wrong.h"
