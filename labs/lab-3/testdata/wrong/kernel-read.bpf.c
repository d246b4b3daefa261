//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: reads the user string as kernel memory: it comes out empty. */
#define READ_USER(dst, src) bpf_probe_read_kernel_str(dst, sizeof(dst), src)
#include "wrong.h"
