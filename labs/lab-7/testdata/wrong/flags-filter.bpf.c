//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: reports only opens for reading (flags O_RDONLY, the
 * access mode bits 0), as a quick test with cat shows. */
#define MATCH(ctx) (opens_target(ctx) && (ctx->args[2] & 3) == 0)
#include "wrong.h"
