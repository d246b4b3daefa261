//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 1's trigger: the grader starts every scenario process from this
 * program (ops.go gives each call's words). One operation:
 *
 *	lab1.openat DIR DFD CWD PATH TAIL FLAGS MODE READ PAGEEND
 *
 * makes one openat(2): dfd a descriptor of DIR (AT_FDCWD for "-"), or DFD
 * when it is not 0 (a number that is no open descriptor); CWD the working
 * directory meanwhile; PATH the filename, with TAIL's bytes after its NUL
 * in the same buffer, or, when PAGEEND is 1, at the very end of a page
 * whose next page is not mapped (a read past the NUL faults). READ 1 reads
 * a byte once it is open ("read-ok"). Nothing else it does calls openat. */
#include "bpflab_trigger.h"

#include <sys/mman.h>

/* page_end is a buffer for n bytes that end where a page does, the next
 * page unmapped. */
static char *page_end(size_t n)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p;

	if (n > (size_t)page)
		trigger_fail("a name of %zu bytes does not fit a page", n);
	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p + page, page, PROT_NONE))
		trigger_fail("mapping a page: %s", strerror(errno));
	return p + page - n;
}

static long openat_op(char **w)
{
	struct trigger_at at = trigger_at(w[1], w[3]);
	char stack[8192], *buf = stack, b;
	size_t n = trigger_bytes(w[4], stack, sizeof(stack) / 2);
	long fd, dfd = trigger_number(w[2]);

	trigger_bytes(w[5], stack + n + 1, sizeof(stack) / 2);
	if (trigger_number(w[9])) {
		buf = page_end(n + 1);
		memcpy(buf, stack, n + 1);
	}
	if (dfd)
		at.dirfd = (int)dfd;
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

static const struct trigger_op ops[] = {{"lab1.openat", 9, openat_op}, {0}};

int trigger_call(int argc, char **argv) { return (int)trigger_dispatch(ops, argc, argv); }

int main(void) { return trigger_main(); }
