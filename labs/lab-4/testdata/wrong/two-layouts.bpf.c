//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong (gaming): reads the arguments where readelf -n says orders
 * and orders-O0 put them, telling the two builds apart by what their
 * registers hold, instead of with BPF_USDT:
 *   orders:    placed 8@%rdi 8@%rsi -4@%edx, audit 8@%rbp -4@%r12d
 *   orders-O0: placed 8@-8(%rbp) 8@-16(%rbp) -4@-20(%rbp) (and -1 in rdi),
 *              audit 8@-16(%rbp) -4@-4(%rbp) (and the record in rax too)
 * Any other build (another compiler, other flags, the orders-vN the grader
 * runs beside them) gets garbage. */
#define OWN_PROGRAMS
#include "wrong.h"

SEC("usdt/orders:orders:placed")
int on_placed(struct pt_regs *ctx)
{
	struct event *e = start(EVENT_PLACED);
	__u64 id, item;
	int quantity;

	if (!e)
		return 0;
	id = ctx->di;
	item = ctx->si;
	quantity = (int)ctx->dx;
	if (ctx->di == (__u64)-1) { /* orders-O0 */
		bpf_probe_read_user(&id, 8, (void *)(ctx->bp - 8));
		bpf_probe_read_user(&item, 8, (void *)(ctx->bp - 16));
		bpf_probe_read_user(&quantity, 4, (void *)(ctx->bp - 20));
	}
	e->id = id;
	e->quantity = quantity;
	bpf_probe_read_user_str(e->text, sizeof(e->text), (void *)item);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("usdt/orders:orders:audit")
int on_audit(struct pt_regs *ctx)
{
	struct event *e = start(EVENT_AUDIT);
	__u64 json, saved = 0;
	int length;

	if (!e)
		return 0;
	json = ctx->bp;
	length = (int)ctx->r12;
	bpf_probe_read_user(&saved, 8, (void *)(ctx->bp - 16));
	if (saved == ctx->ax) { /* orders-O0 */
		json = ctx->ax;
		bpf_probe_read_user(&length, 4, (void *)(ctx->bp - 4));
	}
	e->length = length;
	bpf_probe_read_user_str(e->text, sizeof(e->text), (void *)json);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
