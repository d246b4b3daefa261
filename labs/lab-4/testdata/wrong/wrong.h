/* The reference solution with knobs, so that each known-wrong program
 * shows only its one mistake: it defines a knob, then includes this file.
 *
 *   PLACED_SEC         where the placed program attaches
 *   PLACED_ARGS        its BPF_USDT arguments, in order, with their types
 *   AUDIT_ARGS         the audit program's
 *   READ_STR(dst, src) how strings are copied
 *   DROP(copied, quantity) whether a placed event is thrown away (copied
 *                      is what READ_STR returned for the item)
 *   PID                the pid an event reports
 *   ZERO(e)            how a reserved record is cleared
 *   OWN_PROGRAMS       the file writes both programs itself (start() and
 *                      the map are here)
 *   PLACED_GATE(id)    whether a placed firing gets an event at all, asked
 *                      before its record is reserved (a file that defines
 *                      it includes the headers and declares what the gate
 *                      uses before this file)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "lab4.h"

#ifndef PLACED_SEC
#define PLACED_SEC "usdt/orders:orders:placed"
#endif
#ifndef PLACED_ARGS
#define PLACED_ARGS __u64 id, const char *item, int quantity
#endif
#ifndef AUDIT_ARGS
#define AUDIT_ARGS const char *json, int length
#endif
#ifndef DROP
#define DROP(copied, quantity) ((void)(copied), 0)
#endif
#ifndef READ_STR
#define READ_STR(dst, src) bpf_probe_read_user_str(dst, sizeof(dst), src)
#endif
#ifndef PID
#define PID (bpf_get_current_pid_tgid() >> 32)
#endif
#ifndef ZERO
#define ZERO(e) __builtin_memset(e, 0, sizeof(*e))
#endif
#ifndef PLACED_GATE
#define PLACED_GATE(id) 1
#endif

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline struct event *start(__u32 kind)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	ZERO(e);
	e->pid = PID;
	e->kind = kind;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

#ifndef OWN_PROGRAMS
SEC(PLACED_SEC)
int BPF_USDT(on_placed, PLACED_ARGS)
{
	struct event *e;

	if (!PLACED_GATE(id))
		return 0;
	e = start(EVENT_PLACED);
	if (!e)
		return 0;
	e->id = id;
	e->quantity = quantity;
	long copied = READ_STR(e->text, item);
	if (DROP(copied, quantity)) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("usdt/orders:orders:audit")
int BPF_USDT(on_audit, AUDIT_ARGS)
{
	struct event *e = start(EVENT_AUDIT);

	if (!e)
		return 0;
	e->length = length;
	READ_STR(e->text, json);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
#endif

char LICENSE[] SEC("license") = "GPL";
