//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: compares without case ("/ETC/PASSWD must not slip by").
 * Names on Linux have case: /ETC/PASSWD is another file. */
static __attribute__((always_inline)) inline int any_case(void *ctx);
#define MATCH(ctx) any_case(ctx)
#include "wrong.h"

static __attribute__((always_inline)) inline int any_case(void *c)
{
	struct trace_event_raw_sys_enter *ctx = c;
	char name[16] = {};

	if (bpf_probe_read_user_str(name, sizeof(name), (const char *)ctx->args[1]) != sizeof(target))
		return 0;
	for (int i = 0; i < sizeof(target) - 1; i++) {
		char a = name[i];

		if (a >= 'A' && a <= 'Z')
			a += 'a' - 'A';
		if (a != target[i])
			return 0;
	}
	return 1;
}
