//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong (gaming): denies only the first 200 opens of the file, more
 * than a small scenario makes; a process that opens it hundreds of times
 * gets through. (Not atomic: an atomic fetch-and-add needs 5.12.) */
#include "wrong.h"

__u64 denied = 0;

static __always_inline int decide(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);

	if (BPF_CORE_READ(inode, i_ino) != target_ino || BPF_CORE_READ(inode, i_sb, s_dev) != target_dev)
		return 0;
	if (denied >= 200)
		return 0;
	denied++;
	return 1;
}

GUARD_PROGRAM
