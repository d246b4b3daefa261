//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: builds the event on the stack without initializing it and
 * sends it with bpf_ringbuf_output: the fields a kind does not use (length
 * of placed, id and quantity of audit) and text after the string's NUL
 * hold whatever was on the BPF stack. */
#define OWN_PROGRAMS
#include "wrong.h"

SEC("usdt/orders:orders:placed")
int BPF_USDT(on_placed, __u64 id, const char *item, int quantity)
{
	struct event e;

	e.pid = bpf_get_current_pid_tgid() >> 32;
	e.kind = EVENT_PLACED;
	e.id = id;
	e.quantity = quantity;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_probe_read_user_str(e.text, sizeof(e.text), item);
	bpf_ringbuf_output(&events, &e, sizeof(e), 0);
	return 0;
}

SEC("usdt/orders:orders:audit")
int BPF_USDT(on_audit, const char *json, int length)
{
	struct event e;

	e.pid = bpf_get_current_pid_tgid() >> 32;
	e.kind = EVENT_AUDIT;
	e.length = length;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_probe_read_user_str(e.text, sizeof(e.text), json);
	bpf_ringbuf_output(&events, &e, sizeof(e), 0);
	return 0;
}
