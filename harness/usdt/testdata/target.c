//go:build ignore

// The USDT target the tests build with gcc, at -O0 and -O2, as a PIE, a
// fixed-address and a static executable. With the argument "wait" it stops
// after its probes, until its standard input closes, for a test to look at
// its memory.
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/sdt.h>

int32_t counter = 42;
int64_t total = -7;

void guarded(int v); /* guarded.c */
void in_library(int v); /* lib.c */

/* Inlined at each call: one probe, two sites. */
static inline __attribute__((always_inline)) void twice(int v)
{
	DTRACE_PROBE1(lab, inlined, v);
}

/* Every size, signed and unsigned, in registers or on the stack. */
__attribute__((noinline)) void sizes(int8_t s1, uint8_t u1, int16_t s2, uint16_t u2,
				     int32_t s4, uint32_t u4, int64_t s8, uint64_t u8)
{
	DTRACE_PROBE8(lab, sizes, s1, u1, s2, u2, s4, u4, s8, u8);
}

/* Memory: a local variable the compiler must keep on the stack. */
__attribute__((noinline)) void memory(long *p)
{
	volatile int32_t local = -3;

	DTRACE_PROBE3(lab, memory, local, *p, p);
}

int main(int argc, char **argv)
{
	DTRACE_PROBE(lab, noargs);
	DTRACE_PROBE2(lab, constants, 1234, -5);
	sizes(-1, 255, -2, 65535, -3, 4000000000u, -4, 1ull << 40);
	long x = argc * 7;
	memory(&x);
	DTRACE_PROBE2(lab, globals, counter, total);
	twice(argc);
	twice(argc * 3);
	guarded(argc);
	in_library(argc);
	if (argc > 1 && strcmp(argv[1], "wait") == 0) {
		char c;

		printf("ready\n");
		fflush(stdout);
		while (read(0, &c, 1) > 0)
			;
	}
	return 0;
}
