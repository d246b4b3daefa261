//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 1's trigger: the grader starts every scenario process from this
 * program (ops.go gives each call's words). One operation:
 *
 *	lab1.openat DIR BADDFD CWD PATH TAIL FLAGS MODE READ
 *
 * makes one openat(2): dfd a descriptor of DIR (AT_FDCWD for "-"), or 977
 * (no open descriptor) when BADDFD is 1; CWD the working directory
 * meanwhile; PATH the filename, with TAIL's bytes after its NUL in the
 * same buffer. READ 1 reads a byte once it is open ("read-ok"). Nothing
 * else it does calls openat. */
#include "bpflab_trigger.h"

static long openat_op(char **w)
{
	struct trigger_at at = trigger_at(w[1], w[3]);
	char buf[8192], b;
	size_t n = trigger_bytes(w[4], buf, sizeof(buf) / 2);
	long fd;

	trigger_bytes(w[5], buf + n + 1, sizeof(buf) / 2);
	if (trigger_number(w[2]))
		at.dirfd = 977;
	fd = syscall(SYS_openat, at.dirfd, buf, (int)trigger_number(w[6]), (unsigned int)trigger_number(w[7]));
	if (fd < 0) {
		trigger_errno = errno;
		trigger_at_done(&at);
		return 0;
	}
	if (trigger_number(w[8]) && read((int)fd, &b, 1) == 1)
		trigger_note = "read-ok";
	close((int)fd);
	trigger_at_done(&at);
	return fd;
}

static const struct trigger_op ops[] = {{"lab1.openat", 8, openat_op}, {0}};

int trigger_call(int argc, char **argv) { return (int)trigger_dispatch(ops, argc, argv); }

int main(void) { return trigger_main(); }
