//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: denies every file whose name is "passwd": another file
 * named so is denied, and a link with another name is not. */
#include "wrong.h"

static __always_inline int decide(struct file *file)
{
	char name[8] = {};
	const char want[] = "passwd";

	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(file, f_path.dentry, d_name.name));
	for (int i = 0; i < sizeof(want); i++)
		if (name[i] != want[i])
			return 0;
	return 1;
}

GUARD_PROGRAM
