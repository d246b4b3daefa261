//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: compares from the second byte on ("every absolute name
 * starts with a slash"): Xetc/passwd matches too. */
static __attribute__((always_inline)) inline int from_one(void *ctx);
#define MATCH(ctx) from_one(ctx)
#include "wrong.h"

static __attribute__((always_inline)) inline int from_one(void *c)
{
	struct trace_event_raw_sys_enter *ctx = c;
	char name[16] = {};

	if (bpf_probe_read_user_str(name, sizeof(name), (const char *)ctx->args[1]) != sizeof(target))
		return 0;
	for (int i = 1; i < sizeof(target); i++)
		if (name[i] != target[i])
			return 0;
	return 1;
}
