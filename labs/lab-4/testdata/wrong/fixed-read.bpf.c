//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: copies a fixed 63 bytes with bpf_probe_read_user instead of
 * the string with bpf_probe_read_user_str: a string that ends less than 63
 * bytes before the end of its mapping faults and arrives empty, and a
 * shorter one brings the memory after its NUL along. */
#define READ_STR(dst, src) bpf_probe_read_user(dst, sizeof(dst) - 1, src)
#include "wrong.h"
