//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: both counters are incremented with a plain +=, which loses counts
 * when two CPUs add at once. */
#define ADD_ONE(v) (*(v) += 1)
#include "wrong.h"
