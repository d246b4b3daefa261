//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: denies /etc/passwd, and "while at it" every open for
 * writing on its file system: other files of /etc must open, for writing
 * too. */
#include "wrong.h"

#define FMODE_WRITE 0x2

static __always_inline int decide(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	__u32 dev = BPF_CORE_READ(inode, i_sb, s_dev);

	if (dev == target_dev && (BPF_CORE_READ(file, f_mode) & FMODE_WRITE))
		return 1;
	return BPF_CORE_READ(inode, i_ino) == target_ino && dev == target_dev;
}

GUARD_PROGRAM
