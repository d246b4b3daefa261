//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: counts every process, not only the watched ones. */
#define WATCHING(pid) 1
#include "wrong.h"
