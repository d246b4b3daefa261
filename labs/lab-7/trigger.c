//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 7's trigger: the grader starts every scenario process from this
 * program (ops.go gives each call's words). One operation:
 *
 *	lab7.openat PATH DIR FLAGS
 *
 * makes one openat(2) of PATH with FLAGS, dfd a descriptor of DIR
 * (AT_FDCWD for "-"), and closes what it opened. Nothing else it does
 * calls openat. */
#include "bpflab_trigger.h"

static long openat_op(char **w)
{
	struct trigger_at at = trigger_at(w[2], "-");
	char path[4096];
	long fd;

	trigger_bytes(w[1], path, sizeof(path));
	fd = syscall(SYS_openat, at.dirfd, path, (int)trigger_number(w[3]), 0);
	if (fd < 0) {
		trigger_errno = errno;
		fd = 0;
	} else {
		close((int)fd);
	}
	trigger_at_done(&at);
	return fd;
}

static const struct trigger_op ops[] = {{"lab7.openat", 3, openat_op}, {0}};

int trigger_call(int argc, char **argv) { return (int)trigger_dispatch(ops, argc, argv); }

int main(void) { return trigger_main(); }
