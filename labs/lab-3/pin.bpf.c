//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 3: a uprobe and a uretprobe on a function of a program.
 *
 * The lab's program pinlock has `int check_pin(char *user, int pin)`, which
 * wipes the user name before it returns.
 * Send one struct event (lab3.h) per call of check_pin in pinlock, from any
 * process and thread: the caller's process id and comm, the two arguments
 * and what the call returned. The arguments are there at the function's
 * entry (the uprobe), the return value only at its return (the uretprobe):
 * keep the first until the second, and pair them per call.
 *
 * The section names where to attach: "uprobe/BINARY:FUNCTION". BINARY is
 * one of the lab's programs (pinlock), FUNCTION a symbol in it.
 * BPF_KPROBE and BPF_KRETPROBE name the arguments of uprobes too: a user
 * function gets them in the same registers (newer libbpf also spells them
 * BPF_UPROBE and BPF_URETPROBE).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "lab3.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("uprobe/pinlock:check_pin")
int BPF_KPROBE(on_check_pin, const char *user, int pin)
{
	/* TODO: keep user (the string, not the pointer) and pin until the
	 * call returns. */
	return 0;
}

SEC("uretprobe/pinlock:check_pin")
int BPF_KRETPROBE(on_check_pin_return, int ret)
{
	/* TODO: send one struct event with this call's arguments and ret. */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
