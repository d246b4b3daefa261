//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 6: enforcement with BPF LSM.
 *
 * Deny opening /etc/passwd, under any name, with -EPERM, and allow every
 * other open. The hook, file_open, runs when a file is being opened, with
 * the file itself: decide on the file (target_ino and target_dev in
 * lab6.h), not on a name.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lab6.h"

SEC("lsm/file_open")
int BPF_PROG(guard_open, struct file *file, int ret)
{
	/* Another security module, or another BPF program, said no already. */
	if (ret != 0)
		return ret;
	/* TODO: return -EPERM when file is the target: compare the inode
	 * number and the device of file->f_inode with target_ino and
	 * target_dev. */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
