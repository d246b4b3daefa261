//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: copies only the first 8 bytes of the user. */
#define READ_USER(dst, src) bpf_probe_read_user_str(dst, 8, src)
#include "wrong.h"
