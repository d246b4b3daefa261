//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: keeps the device in a __u16, like an old dev_t, so only
 * the low 16 bits of the minor are compared and the major is lost: a file
 * with the target's inode number on another device with the same minor
 * (a tmpfs, major 0) is denied. */
#include "wrong.h"

static __always_inline int decide(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	__u16 dev = BPF_CORE_READ(inode, i_sb, s_dev);

	return BPF_CORE_READ(inode, i_ino) == target_ino && dev == (__u16)target_dev;
}

GUARD_PROGRAM
