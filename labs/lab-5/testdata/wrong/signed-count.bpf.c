//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: takes the byte count as a signed long and drops the
 * negative ones: counts of 2^63 and more are never counted. */
#define SLOT(fd, count) ((long)(count) < 0 ? HIST_SLOTS : size_slot(count))
#include "wrong.h"
