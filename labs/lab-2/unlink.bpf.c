//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/*
 * Lab 2: report every file deletion, and how it ended.
 * Read README.md first. Grade your work with: make lab-2
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lab2.h"

/* The ring buffer the grader reads your events from. Keep its name. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/*
 * Runs when the kernel's do_unlinkat(int dfd, struct filename *name) starts.
 * The section names the function; on kernels where it has another name the
 * grader's loader attaches this program there for you (see README.md).
 */
SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	/* TODO 1: reserve a struct event, set pid, comm and kind = EVENT_ENTRY. */

	/* TODO 2: name is a kernel pointer to a struct filename. Read its
	 *         `name` field with BPF_CORE_READ, then copy the string it
	 *         points to into e->path with bpf_probe_read_kernel_str. */

	/* TODO 3: submit the event. */
	return 0;
}

/* Runs when do_unlinkat returns. It returns an int: 0, or -errno. */
SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(on_unlink_ret, int ret)
{
	/* TODO 4: send an event with kind = EVENT_RETURN, pid, comm and ret. */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
