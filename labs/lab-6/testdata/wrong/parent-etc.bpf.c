//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: protects /etc as a whole, every file whose directory is
 * named "etc": other files of /etc stop opening, and a hard link in
 * another directory opens. */
#include "wrong.h"

static __always_inline int decide(struct file *file)
{
	char name[4] = {};

	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(file, f_path.dentry, d_parent, d_name.name));
	if (name[0] == 'e' && name[1] == 't' && name[2] == 'c' && name[3] == 0)
		return 1;
	return 0;
}

GUARD_PROGRAM
