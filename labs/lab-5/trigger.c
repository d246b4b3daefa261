//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 5's trigger: the grader starts every scenario process from this
 * program (ops.go gives each call's words). One operation:
 *
 *	lab5.count OPENS PATH SIZES REPEAT
 *
 * opens PATH (a NULL pointer for "-") OPENS times with openat(2), closing
 * each, then makes REPEAT rounds of read(2)s on descriptor -1, one of each
 * size in SIZES (comma-separated, "-" for none). It returns how many calls
 * it made. */
#include "bpflab_trigger.h"

static long count_op(char **w)
{
	long opens = trigger_number(w[1]), repeat = trigger_number(w[4]), calls = 0;
	char path[4096], *sizes = w[3], b;
	const char *p = NULL;

	if (strcmp(w[2], "-") != 0) {
		trigger_bytes(w[2], path, sizeof(path));
		p = path;
	}
	for (long i = 0; i < opens; i++, calls++) {
		long fd = syscall(SYS_openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC, 0);

		if (fd >= 0)
			close((int)fd);
	}
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

static const struct trigger_op ops[] = {{"lab5.count", 4, count_op}, {0}};

int trigger_call(int argc, char **argv) { return (int)trigger_dispatch(ops, argc, argv); }

int main(void) { return trigger_main(); }
