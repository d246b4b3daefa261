//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 4: USDT probes, the static tracepoints of user programs.
 *
 * The lab's program, orders, has three probes (see orders.c):
 *   orders:placed(u64 id, const char *item, int quantity)
 *   orders:cancelled(u64 id, const char *item, int quantity)
 *   orders:audit(const char *json, int length)   built only while traced
 * Send one struct event (lab4.h) per firing of orders:placed and of
 * orders:audit, from any process and thread; nothing for cancelled.
 *
 * The section names the probe: "usdt/BINARY:PROVIDER:NAME". BPF_USDT (from
 * libbpf's usdt.bpf.h) names the probe's arguments by position; the loader
 * tells it where each argument is for each probe.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "lab4.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("usdt/orders:orders:placed")
int BPF_USDT(on_placed, __u64 id, const char *item, int quantity)
{
	/* TODO: send an EVENT_PLACED with pid, comm, id, item and quantity. */
	return 0;
}

SEC("usdt/orders:orders:audit")
int BPF_USDT(on_audit, const char *json, int length)
{
	/* TODO: send an EVENT_AUDIT with pid, comm, the record and its
	 * length. */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
