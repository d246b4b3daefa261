//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 5's trigger: the grader starts every scenario process from this
 * program (ops.go gives each call's words). One operation:
 *
 *	lab5.count MEET OPENS PATH SIZES REPEAT DIR FLAGS
 *
 * waits, when MEET is more than 0, until MEET calls of the process are
 * there (once in the process's life: its threads' first openat calls
 * then leave at the same instant), opens PATH (a NULL pointer for "-")
 * OPENS times with openat(2) and FLAGS, relative to a descriptor of the
 * directory DIR (opened with open(2) before; AT_FDCWD for "-"), closing
 * each, then makes REPEAT rounds of
 * read(2)s on descriptor -1, one of each size in SIZES (comma-separated,
 * "-" for none; a descriptor that is not open fails with EBADF before the
 * kernel looks at the buffer or the count, so any count is safe). It
 * returns how many calls it made. */
#include "bpflab_trigger.h"

/* How many calls reached the meeting point. */
static int meet_arrived;

/* meet waits until n calls are there: spinning, so that the last to come
 * and those waiting leave within nanoseconds of each other (the harness's
 * rendezvous yields the CPU between looks, microseconds), yielding now
 * and then for a thread that has no CPU of its own. */
static void meet(long n)
{
	__atomic_add_fetch(&meet_arrived, 1, __ATOMIC_SEQ_CST);
	for (unsigned long spin = 1; __atomic_load_n(&meet_arrived, __ATOMIC_SEQ_CST) < n; spin++) {
		if (spin % 4096 == 0)
			sched_yield();
		else
			__builtin_ia32_pause();
	}
}

static long count_op(char **w)
{
	long opens = trigger_number(w[2]), repeat = trigger_number(w[5]), calls = 0;
	long flags = trigger_number(w[7]);
	char path[4096], *sizes = w[4], b;
	const char *p = NULL;
	struct trigger_at at = trigger_at(w[6], "-");

	if (strcmp(w[3], "-") != 0) {
		trigger_bytes(w[3], path, sizeof(path));
		p = path;
	}
	if (trigger_number(w[1]) > 0)
		meet(trigger_number(w[1]));
	for (long i = 0; i < opens; i++, calls++) {
		long fd = syscall(SYS_openat, at.dirfd, p, flags, 0);

		if (fd >= 0)
			close((int)fd);
	}
	trigger_at_done(&at);
	if (repeat < 1)
		repeat = 1;
	if (strcmp(sizes, "-") == 0)
		return calls;
	for (long r = 0; r < repeat; r++) {
		for (char *s = sizes; *s;) {
			char *end;
			unsigned long n = strtoul(s, &end, 10);

			if (end == s || (*end && *end != ','))
				trigger_fail("bad sizes %.40s", sizes);
			syscall(SYS_read, -1, &b, n);
			calls++;
			s = *end ? end + 1 : end;
		}
	}
	return calls;
}

static const struct trigger_op ops[] = {{"lab5.count", 7, count_op}, {0}};

int trigger_call(int argc, char **argv) { return (int)trigger_dispatch(ops, argc, argv); }

int main(void) { return trigger_main(); }
