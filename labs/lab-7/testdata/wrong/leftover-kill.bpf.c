//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: lab 1's reaction left in: it reports each open of
 * /etc/passwd, then kills the opener. */
static __attribute__((always_inline)) inline int report_and_kill(void *ctx);
#define MATCH(ctx) report_and_kill(ctx)
#include "wrong.h"

static __attribute__((always_inline)) inline int report_and_kill(void *ctx)
{
	if (!opens_target(ctx))
		return 0;
	bpf_send_signal(9);
	return 1;
}
