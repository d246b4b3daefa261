//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: cuts the byte count to 32 bits before taking its slot. */
#define SLOT(fd, count) size_slot((__u32)(count))
#include "wrong.h"
