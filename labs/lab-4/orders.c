//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* orders: the program lab 4's USDT probes are in. It places orders and
 * tells tracers about them through static probes (sys/sdt.h):
 *
 *   orders:placed(u64 id, const char *item, int quantity)   every order
 *   orders:cancelled(u64 id, const char *item, int quantity) a cancellation
 *   orders:audit(const char *json, int length)              is-enabled
 *
 * The audit probe's argument is expensive to build (a JSON record), so the
 * program builds it only when its semaphore, orders_audit_semaphore, is
 * not zero: the kernel raises it while a uprobe with a reference counter
 * is attached to the probe. Untraced, the probe costs one test of a
 * counter.
 *
 * It is also the grader's trigger (bpflab_trigger.h): it makes the calls of
 * the grader's plan, on the threads the plan names. */
#include "bpflab_trigger.h"
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

/* With _SDT_HAS_SEMAPHORES every probe has its semaphore; only audit's
 * guards anything. */
#define ORDERS_SEMAPHORE(name) unsigned short orders_##name##_semaphore __attribute__((unused)) __attribute__((section(".probes")))
ORDERS_SEMAPHORE(placed);
ORDERS_SEMAPHORE(cancelled);
ORDERS_SEMAPHORE(audit);
#define ORDERS_AUDIT_ENABLED() __builtin_expect(orders_audit_semaphore, 0)

/* Built without optimization (orders-O0), the probes' arguments are on the
 * stack; the registers they came in are then overwritten, as any call
 * would, so that only the notes say where the arguments are. */
#ifdef __OPTIMIZE__
#define SCRAMBLE() do { } while (0)
#else
#define SCRAMBLE() __asm__ volatile("mov $-1, %%rdi\n\tmov $-1, %%rsi\n\tmov $-1, %%rdx" ::: "rdi", "rsi", "rdx")
#endif

__attribute__((noinline)) static int place(unsigned long long id, const char *item, int quantity)
{
	SCRAMBLE();
	DTRACE_PROBE3(orders, placed, id, item, quantity);
	return quantity > 0 ? 0 : -1;
}

__attribute__((noinline)) static int cancel(unsigned long long id, const char *item, int quantity)
{
	SCRAMBLE();
	DTRACE_PROBE3(orders, cancelled, id, item, quantity);
	return 0;
}

/* audit returns 1 when it built the record (someone is tracing), else 0. */
__attribute__((noinline)) static int audit(unsigned long long id, const char *item, int quantity)
{
	char json[160];
	int n;

	if (!ORDERS_AUDIT_ENABLED())
		return 0;
	n = snprintf(json, sizeof(json), "{\"id\":%llu,\"item\":\"%s\",\"quantity\":%d}", id, item, quantity);
	DTRACE_PROBE2(orders, audit, json, n);
	return 1;
}

static void unhex(const char *h, char *out, size_t size)
{
	size_t n = 0;

	for (; h[0] && h[1] && n + 1 < size; h += 2) {
		unsigned int b;

		sscanf(h, "%2x", &b);
		out[n++] = (char)b;
	}
	out[n] = 0;
}

/* trigger_call makes one call of the grader's plan:
 * "place|cancel|audit ID ITEM-IN-HEX QUANTITY". */
int trigger_call(int argc, char **argv)
{
	char item[96];
	unsigned long long id;
	int quantity;

	if (argc != 4 || argv[2][0] != 'x') {
		fprintf(stderr, "orders: bad call in the plan\n");
		exit(2);
	}
	id = strtoull(argv[1], NULL, 10);
	unhex(argv[2] + 1, item, sizeof(item));
	quantity = atoi(argv[3]);
	if (strcmp(argv[0], "place") == 0)
		return place(id, item, quantity);
	if (strcmp(argv[0], "cancel") == 0)
		return cancel(id, item, quantity);
	return audit(id, item, quantity);
}

int main(void)
{
	return trigger_main();
}
