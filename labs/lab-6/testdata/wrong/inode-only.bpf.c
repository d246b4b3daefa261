//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: compares the inode number and not the device. Inode numbers
 * are per file system: another file system can have a file of the same
 * number. */
#include "wrong.h"

static __always_inline int decide(struct file *file)
{
	return BPF_CORE_READ(file, f_inode, i_ino) == target_ino;
}

GUARD_PROGRAM
