//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: openat_counts has room for 6 processes only; the grader
 * watches more, and those beyond the 6th are never counted. */
#define COUNT_ENTRIES 6
#include "wrong.h"
