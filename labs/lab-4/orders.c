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
#include <sys/mman.h>
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

/* A variant build (orders-vN, one of which the grader runs in each
 * grading) keeps the probes' arguments in the registers it names with
 * -DID_REG="r13" and so on, and writes -1 over the registers the other
 * builds use: again, only the notes say where the arguments are. */
#ifdef ID_REG
#define VARIANT_SCRAMBLE() __asm__ volatile("mov $-1, %%rdi\n\tmov $-1, %%rsi\n\tmov $-1, %%rdx\n\tmov $-1, %%rax\n\tmov $-1, %%rbx\n\tmov $-1, %%r12" ::: "rdi", "rsi", "rdx", "rax", "rbx", "r12")
#define PROBE3(name, id, item, quantity) do {						\
		register unsigned long long id_ __asm__(ID_REG) = (id);			\
		register const char *item_ __asm__(ITEM_REG) = (item);			\
		register int quantity_ __asm__(QUANTITY_REG) = (quantity);		\
		VARIANT_SCRAMBLE();							\
		DTRACE_PROBE3(orders, name, id_, item_, quantity_);			\
	} while (0)
#define PROBE2(name, json, length) do {							\
		register const char *json_ __asm__(JSON_REG) = (json);			\
		register int length_ __asm__(LENGTH_REG) = (length);			\
		VARIANT_SCRAMBLE();							\
		DTRACE_PROBE2(orders, name, json_, length_);				\
	} while (0)
#else
#define PROBE3(name, id, item, quantity) do {						\
		SCRAMBLE();								\
		DTRACE_PROBE3(orders, name, id, item, quantity);			\
	} while (0)
#define PROBE2(name, json, length) DTRACE_PROBE2(orders, name, json, length)
#endif

__attribute__((noinline)) static int place(unsigned long long id, const char *item, int quantity)
{
	PROBE3(placed, id, item, quantity);
	return quantity > 0 ? 0 : -1;
}

__attribute__((noinline)) static int cancel(unsigned long long id, const char *item, int quantity)
{
	PROBE3(cancelled, id, item, quantity);
	return 0;
}

/* An edge string is copied to the very end of a page of its own, whose
 * next page is mapped PROT_NONE: a copy of the string that reads past its
 * NUL faults there. Writing the string touches the page, so a copy that
 * stops at the NUL (bpf_probe_read_user_str) reads it whole. */
struct edge {
	char *map;
	size_t size;
};

static const char *at_edge(struct edge *e, const char *s)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = strlen(s) + 1;

	e->size = 2 * page;
	e->map = mmap(NULL, e->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e->map == MAP_FAILED || mprotect(e->map + page, page, PROT_NONE) != 0) {
		perror("orders: mapping an edge string");
		exit(2);
	}
	return memcpy(e->map + page - n, s, n);
}

static void edge_done(struct edge *e)
{
	if (e->map)
		munmap(e->map, e->size);
}

/* audit returns 1 when it built the record (someone is tracing), else 0;
 * at_end puts the record at the end of a mapping. */
__attribute__((noinline)) static int audit(unsigned long long id, const char *item, int quantity, int at_end)
{
	struct edge e = {0};
	const char *rec;
	char json[320];
	int n;

	if (!ORDERS_AUDIT_ENABLED())
		return 0;
	n = snprintf(json, sizeof(json), "{\"id\":%llu,\"item\":\"%s\",\"quantity\":%d}", id, item, quantity);
	rec = at_end ? at_edge(&e, json) : json;
	PROBE2(audit, rec, n);
	edge_done(&e);
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
 * "place|cancel|audit ID ITEM-IN-HEX QUANTITY EDGE", where EDGE 1 puts the
 * string the probe passes (the item, or the audit record) at the end of a
 * mapping. */
int trigger_call(int argc, char **argv)
{
	struct edge e = {0};
	char item[256];
	const char *arg = item;
	unsigned long long id;
	int quantity, at_end, ret;

	if (argc != 5 || argv[2][0] != 'x') {
		fprintf(stderr, "orders: bad call in the plan\n");
		exit(2);
	}
	id = strtoull(argv[1], NULL, 10);
	unhex(argv[2] + 1, item, sizeof(item));
	quantity = atoi(argv[3]);
	at_end = strcmp(argv[4], "1") == 0;
	if (strcmp(argv[0], "audit") == 0)
		return audit(id, item, quantity, at_end);
	if (at_end)
		arg = at_edge(&e, item);
	if (strcmp(argv[0], "place") == 0)
		ret = place(id, arg, quantity);
	else
		ret = cancel(id, arg, quantity);
	edge_done(&e);
	return ret;
}

int main(void)
{
	return trigger_main();
}
