//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: copies a fixed sizeof(user) bytes with bpf_probe_read_user
 * instead of the string: a user that ends less than 32 bytes before an
 * unmapped page makes the whole read fault, and arrives empty. */
#define READ_USER(dst, src) (bpf_probe_read_user(dst, sizeof(dst), src), (dst)[sizeof(dst) - 1] = 0)
#include "wrong.h"
