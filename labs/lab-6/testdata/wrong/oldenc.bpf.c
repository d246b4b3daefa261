//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: converts the kernel's s_dev to the user-space encoding
 * (new_encode_dev: minor's low byte, major << 8, minor's high bits << 12)
 * before comparing, as if target_dev came straight from stat(2). The
 * loader already converted it: on a device whose major is not 0 the two
 * never match. */
#include "wrong.h"

static __always_inline int decide(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	__u32 dev = BPF_CORE_READ(inode, i_sb, s_dev);
	__u32 major = dev >> 20, minor = dev & 0xfffff;
	__u32 udev = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);

	return BPF_CORE_READ(inode, i_ino) == target_ino && udev == target_dev;
}

GUARD_PROGRAM
