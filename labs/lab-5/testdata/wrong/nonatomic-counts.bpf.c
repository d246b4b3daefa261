//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: the openat counter is incremented with a plain +=; the
 * histogram is right. */
#define COUNT_ADD(v) (*(v) += 1)
#include "wrong.h"
