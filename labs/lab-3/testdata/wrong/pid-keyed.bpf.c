//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: keeps the arguments by process, so two threads inside check_pin at
 * once overwrite each other. */
#define KEY_OF(id) ((id) >> 32)
#include "wrong.h"
