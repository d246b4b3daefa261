//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: "never get in the kernel's way": lets through every thread
 * whose name starts with kworker. Any thread can name itself so
 * (prctl PR_SET_NAME, '/' included). */
#include "wrong.h"

static __always_inline int decide(struct file *file)
{
	struct inode *inode;
	char c[16] = {};

	bpf_get_current_comm(c, sizeof(c));
	if (c[0] == 'k' && c[1] == 'w' && c[2] == 'o' && c[3] == 'r' && c[4] == 'k' && c[5] == 'e' && c[6] == 'r')
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	return BPF_CORE_READ(inode, i_ino) == target_ino && BPF_CORE_READ(inode, i_sb, s_dev) == target_dev;
}

GUARD_PROGRAM
