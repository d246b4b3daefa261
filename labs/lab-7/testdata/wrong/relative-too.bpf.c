//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: also reports the name "passwd", guessing that a relative
 * name is opened in /etc; the lab reports the name /etc/passwd as
 * passed, and "passwd" through any descriptor is another name. */
#define MATCH(ctx) (opens_target(ctx) || ({                                                      \
	char n[8] = {};                                                                          \
	bpf_probe_read_user_str(n, sizeof(n), (const char *)(ctx)->args[1]) == 7 && n[0] == 'p' && \
		n[1] == 'a' && n[2] == 's' && n[3] == 's' && n[4] == 'w' && n[5] == 'd';           \
}))
#include "wrong.h"
