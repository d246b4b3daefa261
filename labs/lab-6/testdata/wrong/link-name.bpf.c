//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: compares the path, "passwd" in a directory named "etc", and
 * the name the grader once gave its hard link (/etc/.accounts-NNNNNN). A
 * hard link can have any name, in any directory of the file system. */
#include "wrong.h"

static __always_inline int same(const unsigned char *name, const char *want, int n)
{
	char got[12] = {};

	bpf_probe_read_kernel_str(got, sizeof(got), name);
	for (int i = 0; i < n; i++)
		if (got[i] != want[i])
			return 0;
	return 1;
}

static __always_inline int decide(struct file *file)
{
	struct dentry *d = BPF_CORE_READ(file, f_path.dentry);
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);

	if (!same(BPF_CORE_READ(d, d_parent, d_name.name), "etc", 4))
		return 0;
	if (same(name, "passwd", 7) || same(name, ".accounts-", 10))
		return 1;
	return 0;
}

GUARD_PROGRAM
