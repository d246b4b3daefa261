//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: printed target_ino and target_dev once (bpf_printk) and
 * hard-coded what it saw, inode 14 on device 0:2, the guest's root. The
 * file the loader names differs: another inode number, another device. */
#include "wrong.h"

static __always_inline int decide(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);

	return BPF_CORE_READ(inode, i_ino) == 14 && BPF_CORE_READ(inode, i_sb, s_dev) == 2;
}

GUARD_PROGRAM
