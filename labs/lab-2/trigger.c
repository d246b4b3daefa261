//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 2's trigger: the grader starts every scenario process from this
 * program (ops.go gives each call's words). One operation:
 *
 *	lab2.file CALL DIR CWD PATH NEWPATH FLAGS NOBODY
 *
 * makes one system call on PATH: CALL is unlink, unlinkat (FLAGS), rmdir,
 * mkdir (mkdirat), creat or open (openat, then close), rename (renameat)
 * or link (linkat) to NEWPATH; the *at calls get a descriptor of DIR
 * (AT_FDCWD for "-"), CWD is the working directory meanwhile, and NOBODY
 * 1 makes the call as user nobody (this thread only). */
#include "bpflab_trigger.h"

#define NOBODY 65534

static long file_op(char **w)
{
	struct trigger_at at = trigger_at(w[2], w[3]);
	char path[4096], newpath[4096];
	int nobody = (int)trigger_number(w[7]);
	const char *call = w[1];
	long r;

	trigger_bytes(w[4], path, sizeof(path));
	trigger_bytes(w[5], newpath, sizeof(newpath));
	/* syscall(2), not setresuid(3): glibc would change every thread. */
	if (nobody && syscall(SYS_setresuid, -1, NOBODY, -1) != 0)
		trigger_fail("becoming nobody: %s", strerror(errno));
	if (strcmp(call, "unlink") == 0) {
		r = syscall(SYS_unlink, path);
	} else if (strcmp(call, "unlinkat") == 0) {
		r = syscall(SYS_unlinkat, at.dirfd, path, (int)trigger_number(w[6]));
	} else if (strcmp(call, "rmdir") == 0) {
		r = syscall(SYS_rmdir, path);
	} else if (strcmp(call, "mkdir") == 0) {
		r = syscall(SYS_mkdirat, at.dirfd, path, 0755);
	} else if (strcmp(call, "creat") == 0 || strcmp(call, "open") == 0) {
		int flags = strcmp(call, "creat") == 0 ? O_WRONLY | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC;

		r = syscall(SYS_openat, at.dirfd, path, flags, 0644);
		if (r >= 0)
			close((int)r);
	} else if (strcmp(call, "rename") == 0) {
		r = syscall(SYS_renameat, at.dirfd, path, at.dirfd, newpath);
	} else if (strcmp(call, "link") == 0) {
		r = syscall(SYS_linkat, at.dirfd, path, at.dirfd, newpath, 0);
	} else {
		trigger_fail("unknown file call %s", call);
		return 0;
	}
	if (r < 0) {
		trigger_errno = errno;
		r = 0;
	}
	if (nobody)
		syscall(SYS_setresuid, -1, 0, -1);
	trigger_at_done(&at);
	return r;
}

static const struct trigger_op ops[] = {{"lab2.file", 7, file_op}, {0}};

int trigger_call(int argc, char **argv) { return (int)trigger_dispatch(ops, argc, argv); }

int main(void) { return trigger_main(); }
