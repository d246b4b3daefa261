//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: reports only the first call of each process. */
#define ONCE_PER_PROCESS
#include "wrong.h"
