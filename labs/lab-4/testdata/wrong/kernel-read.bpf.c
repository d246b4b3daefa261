//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: reads the strings as kernel memory: they come out empty. */
#define READ_STR(dst, src) bpf_probe_read_kernel_str(dst, sizeof(dst), src)
#include "wrong.h"
