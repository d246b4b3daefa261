//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong (gaming): acts only where /etc/passwd is on an anonymous
 * device (major 0, as in a grader's initramfs) and does nothing on a
 * disk. */
#include "wrong.h"

static __always_inline int decide(struct file *file)
{
	struct inode *inode;

	if ((target_dev >> 20) != 0)
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	return BPF_CORE_READ(inode, i_ino) == target_ino && BPF_CORE_READ(inode, i_sb, s_dev) == target_dev;
}

GUARD_PROGRAM
