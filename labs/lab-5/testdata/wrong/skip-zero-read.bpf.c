//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: drops the reads of 0 bytes ("nothing to read"): slot 0
 * holds only the reads of 1 byte. */
#define SLOT(fd, count) ((count) == 0 ? HIST_SLOTS : size_slot(count))
#include "wrong.h"
