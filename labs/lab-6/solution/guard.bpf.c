//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 6 reference solution. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lab6.h"

SEC("lsm/file_open")
int BPF_PROG(guard_open, struct file *file, int ret)
{
	struct inode *inode;

	if (ret != 0)
		return ret;
	/* The file, whatever name it was opened by: an inode on a device. */
	inode = BPF_CORE_READ(file, f_inode);
	if (BPF_CORE_READ(inode, i_ino) == target_ino && BPF_CORE_READ(inode, i_sb, s_dev) == target_dev)
		return -EPERM;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
