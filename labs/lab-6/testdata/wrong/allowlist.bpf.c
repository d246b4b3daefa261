//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: lets through the programs that look up users (nscd,
 * getent, id, su, passwd), by their process name; a name is whatever a
 * process sets. */
#include "wrong.h"

static __always_inline int trusted(void)
{
	char c[16] = {};

	bpf_get_current_comm(c, sizeof(c));
	if (c[0] == 'n' && c[1] == 's' && c[2] == 'c' && c[3] == 'd' && c[4] == 0)
		return 1;
	if (c[0] == 'g' && c[1] == 'e' && c[2] == 't' && c[3] == 'e' && c[4] == 'n' && c[5] == 't' && c[6] == 0)
		return 1;
	if (c[0] == 'i' && c[1] == 'd' && c[2] == 0)
		return 1;
	if (c[0] == 's' && c[1] == 'u' && c[2] == 0)
		return 1;
	if (c[0] == 'p' && c[1] == 'a' && c[2] == 's' && c[3] == 's' && c[4] == 'w' && c[5] == 'd' && c[6] == 0)
		return 1;
	return 0;
}

static __always_inline int decide(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);

	return BPF_CORE_READ(inode, i_ino) == target_ino && BPF_CORE_READ(inode, i_sb, s_dev) == target_dev && !trusted();
}

GUARD_PROGRAM
