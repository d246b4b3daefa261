//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: checks the length, then compares one byte too few, so
 * /etc/passwX (any last byte) counts too. */
#define MATCH(ctx) ({                                                                              \
	char n[16] = {};                                                                           \
	int ok = bpf_probe_read_user_str(n, sizeof(n), (const char *)(ctx)->args[1]) == sizeof(target); \
	for (int i = 0; ok && i < sizeof(target) - 2; i++)                                         \
		ok = n[i] == target[i];                                                            \
	ok;                                                                                        \
})
#include "wrong.h"
