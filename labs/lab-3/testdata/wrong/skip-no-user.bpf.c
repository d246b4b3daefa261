//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: sends nothing when check_pin returns -1 (no user), as if a
 * call without a user were not a call. */
#define SKIP_NO_USER
#include "wrong.h"
