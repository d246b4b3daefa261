//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: never looks at target_ino: denies every regular file on the
 * target's device with two links or more, since the grader hard-links
 * /etc/passwd. Another file there can have a hard link too. */
#include "wrong.h"

static __always_inline int decide(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);

	/* 0170000 is S_IFMT, 0100000 S_IFREG: a regular file. */
	if ((BPF_CORE_READ(inode, i_mode) & 0170000) == 0100000 && BPF_CORE_READ(inode, __i_nlink) >= 2 &&
	    BPF_CORE_READ(inode, i_sb, s_dev) == target_dev)
		return 1;
	return 0;
}

GUARD_PROGRAM
