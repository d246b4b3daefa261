//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: takes the slot of the file descriptor, not of the byte count. */
#define SLOT(fd, count) size_slot(fd)
#include "wrong.h"
