//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: reads the arguments from the registers readelf -n lists for
 * one build of orders (placed: 8@%rdi 8@%rsi -4@%edx; audit: 8@%rbp
 * -4@%r12d) instead of with BPF_USDT, which reads each where the notes of
 * the build that fired say: in orders-O0 they are on the stack, in the
 * orders-vN the grader picks for each run in other registers. */
#define OWN_PROGRAMS
#include "wrong.h"

SEC("usdt/orders:orders:placed")
int on_placed(struct pt_regs *ctx)
{
	struct event *e = start(EVENT_PLACED);

	if (!e)
		return 0;
	e->id = ctx->di;
	e->quantity = (int)ctx->dx;
	bpf_probe_read_user_str(e->text, sizeof(e->text), (void *)ctx->si);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("usdt/orders:orders:audit")
int on_audit(struct pt_regs *ctx)
{
	struct event *e = start(EVENT_AUDIT);

	if (!e)
		return 0;
	e->length = (int)ctx->r12;
	bpf_probe_read_user_str(e->text, sizeof(e->text), (void *)ctx->bp);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

