//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 6's trigger: the grader starts every scenario process from this
 * program (ops.go gives each call's words). One operation:
 *
 *	lab6.open PATH DIR CWD REOPEN FLAGS COMM REPEAT
 *
 * opens PATH with openat(2) and FLAGS (plus O_CLOEXEC): dfd a descriptor
 * of DIR (AT_FDCWD for "-"), CWD the working directory meanwhile. REOPEN 1
 * first opens PATH with O_PATH and then opens /proc/self/fd/N instead.
 * COMM, unless "-", is the thread's name meanwhile (prctl PR_SET_NAME: it
 * may have a '/', as kernel threads' names do). REPEAT opens are made, one
 * after the other, until one opens or fails otherwise than the ones
 * before. It returns 1 when the file could be used as opened (a byte read,
 * a directory listed, or opened for writing), else 0 with the open's errno
 * when that failed; a note says how many opens were made. */
#include "bpflab_trigger.h"
#include <sys/prctl.h>

static long open_op(char **w)
{
	struct trigger_at at = trigger_at(w[2], w[3]);
	int flags = (int)trigger_number(w[5]), dirfd = at.dirfd, pathfd = -1;
	char path[4096], b, ents[256], comm[16], old[16];
	static __thread char note[32];
	long fd, ret = 0, repeat = trigger_number(w[7]), n = 0;
	int first = 0;

	trigger_bytes(w[1], path, sizeof(path));
	if (trigger_bytes(w[6], comm, sizeof(comm)) > 0) {
		prctl(PR_GET_NAME, old, 0, 0, 0);
		prctl(PR_SET_NAME, comm, 0, 0, 0);
	}
	if (trigger_number(w[4])) {
		pathfd = (int)syscall(SYS_openat, dirfd, path, O_PATH | O_CLOEXEC, 0);
		if (pathfd < 0)
			trigger_fail("opening %s with O_PATH: %s", path, strerror(errno));
		snprintf(path, sizeof(path), "/proc/self/fd/%d", pathfd);
		dirfd = AT_FDCWD;
	}
	for (;;) {
		fd = syscall(SYS_openat, dirfd, path, flags | O_CLOEXEC, 0);
		n++;
		if (fd >= 0 || n >= repeat || (n > 1 && errno != first))
			break;
		first = errno;
	}
	if (repeat > 1) {
		snprintf(note, sizeof(note), "opens:%ld", n);
		trigger_note = note;
	}
	if (fd < 0) {
		trigger_errno = errno;
	} else {
		if (flags & O_DIRECTORY)
			ret = syscall(SYS_getdents64, (int)fd, ents, sizeof(ents)) >= 0;
		else if (flags & (O_WRONLY | O_RDWR))
			ret = 1; /* opened for writing: nothing is written */
		else
			ret = read((int)fd, &b, 1) == 1;
		close((int)fd);
	}
	if (pathfd >= 0)
		close(pathfd);
	if (comm[0])
		prctl(PR_SET_NAME, old, 0, 0, 0);
	trigger_at_done(&at);
	return ret;
}

static const struct trigger_op ops[] = {{"lab6.open", 7, open_op}, {0}};

int trigger_call(int argc, char **argv) { return (int)trigger_dispatch(ops, argc, argv); }

int main(void) { return trigger_main(); }
