//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: a hand-written compare that stops where the name read
 * ends, so every beginning of /etc/passwd ("/", "/etc", even "") is taken
 * for it. */
static __attribute__((always_inline)) inline int stops_early(void *ctx);
#define MATCH(ctx) stops_early(ctx)
#include "wrong.h"

static __attribute__((always_inline)) inline int stops_early(void *c)
{
	struct trace_event_raw_sys_enter *ctx = c;
	char name[16] = {};

	if (bpf_probe_read_user_str(name, sizeof(name), (const char *)ctx->args[1]) < 0)
		return 0;
	for (int i = 0; i < sizeof(target); i++) {
		if (!name[i])
			break;
		if (name[i] != target[i])
			return 0;
	}
	return 1;
}
