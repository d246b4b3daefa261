//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: denies the right file, with EACCES instead of EPERM. */
#define DENY 13 /* EACCES */
#include "wrong.h"

static __always_inline int decide(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);

	if (BPF_CORE_READ(inode, i_ino) == target_ino && BPF_CORE_READ(inode, i_sb, s_dev) == target_dev)
		return 1;
	return 0;
}

GUARD_PROGRAM
