//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Lab 2's trigger: the grader starts every scenario process from this
 * program (ops.go gives each call's words). One operation:
 *
 *	lab2.file CALL DIR CWD PATH NEWPATH FLAGS NOBODY STAGE
 *
 * makes one system call on PATH: CALL is unlink, unlinkat (FLAGS), rmdir,
 * mkdir (mkdirat), creat or open (openat, then close), rename (renameat)
 * or link (linkat) to NEWPATH; the *at calls get a descriptor of DIR
 * (AT_FDCWD for "-"), CWD is the working directory meanwhile, and NOBODY
 * 1 makes the call as user nobody (this thread only).
 *
 * CALL hold, with the deletions of its batch, puts several threads of the
 * process inside the deleting function at once, on any kernel and with
 * one CPU (see hold_op). A deletion with STAGE 1 or 2 waits for the
 * batch's hold to let its stage go; the hold's FLAGS is how many
 * deletions of stage 2 it waits for. */
#include "bpflab_trigger.h"
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#define NOBODY 65534

/* A hold batch: the stage its deletions may start (a futex word), and for
 * each stage the thread ids of the deletions that have started and
 * whether they have returned. */
static int hold_gate;
static int hold_n[3];
static int hold_tid[3][TRIGGER_MAX_THREADS + 1];
static int hold_done[3][TRIGGER_MAX_THREADS + 1];

/* hold_enter waits for the batch's hold to let stage go, and says that
 * this thread is about to delete; it returns the thread's slot. */
static int hold_enter(int stage)
{
	int g, k;

	while ((g = __atomic_load_n(&hold_gate, __ATOMIC_SEQ_CST)) < stage)
		syscall(SYS_futex, &hold_gate, FUTEX_WAIT_PRIVATE, g, NULL, NULL, 0);
	k = __atomic_fetch_add(&hold_n[stage], 1, __ATOMIC_SEQ_CST);
	if (k > TRIGGER_MAX_THREADS)
		trigger_fail("too many deletions in stage %d", stage);
	__atomic_store_n(&hold_tid[stage][k], trigger_gettid(), __ATOMIC_SEQ_CST);
	return k;
}

static void hold_let(int stage)
{
	__atomic_store_n(&hold_gate, stage, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &hold_gate, FUTEX_WAKE_PRIVATE, TRIGGER_MAX_THREADS, NULL, NULL, 0);
}

static long long hold_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* thread_state is the state letter of /proc/self/task/TID/stat ('D':
 * waiting uninterruptibly, as on a lock), read with open(2). */
static char thread_state(int tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = (int)syscall(SYS_open, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* hold_wait waits until the want deletions of stage have started and
 * each is asleep in the kernel ('D'): inside the deleting function,
 * waiting for a lock the hold keeps. One that has returned already means
 * the kernel did not wait, and the batch would prove nothing. */
static void hold_wait(int stage, int want)
{
	long long end = hold_now_ms() + 5000;
	struct timespec ms = {0, 1000 * 1000};

	for (int k = 0; k < want; k++) {
		for (;;) {
			int tid = __atomic_load_n(&hold_tid[stage][k], __ATOMIC_SEQ_CST);

			if (__atomic_load_n(&hold_done[stage][k], __ATOMIC_SEQ_CST))
				trigger_fail("hold: a deletion of stage %d returned while the hold was on", stage);
			if (tid && thread_state(tid) == 'D')
				break;
			if (hold_now_ms() > end)
				trigger_fail("hold: the deletions of stage %d did not start waiting in 5 s", stage);
			nanosleep(&ms, NULL);
		}
	}
}

struct writer {
	int fd;
	char *buf;
	long ret;
};

static void *hold_writer(void *arg)
{
	struct writer *w = arg;

	w->ret = write(w->fd, w->buf, 1);
	return NULL;
}

/* hold_op keeps a deletion in progress while others start, so that
 * several threads of the process are inside the deleting function at
 * once, whatever the kernel and however many CPUs:
 *
 * 1. A thread of its own writes one byte to PATH from a page that is not
 *    there yet, registered with userfaultfd: the kernel takes the file's
 *    inode lock for the write, faults on the page and waits, lock held,
 *    until this thread supplies the page. The fault arriving on the
 *    userfaultfd says the lock is held.
 * 2. Stage 1 goes: one thread unlinks PATH. The kernel's deleting
 *    function (its kprobe has fired) locks the directory, then waits for
 *    the file's lock: the thread is seen in state D.
 * 3. Stage 2 goes: the other threads delete names in the same directory,
 *    and wait inside the function for the directory's lock (state D).
 * 4. The page is supplied: the write ends, and the deletions finish one
 *    after the other. Every deletion of the batch started before any of
 *    them returned. */
static long hold_op(const char *path, int stage2)
{
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg = {.mode = UFFDIO_REGISTER_MODE_MISSING};
	struct uffdio_zeropage zero = {.mode = 0};
	struct uffd_msg msg;
	struct writer w;
	pthread_t t;
	long page = sysconf(_SC_PAGESIZE);
	int uffd;

	if (stage2 < 0 || stage2 > TRIGGER_MAX_THREADS)
		trigger_fail("hold: bad count %d", stage2);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) != 0)
		trigger_fail("hold: userfaultfd: %s", strerror(errno));
	w.buf = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w.buf == MAP_FAILED)
		trigger_fail("hold: mmap: %s", strerror(errno));
	reg.range.start = (unsigned long)w.buf;
	reg.range.len = page;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0)
		trigger_fail("hold: registering the page: %s", strerror(errno));
	w.fd = (int)syscall(SYS_open, path, O_WRONLY | O_CLOEXEC);
	if (w.fd < 0)
		trigger_fail("hold: opening %s: %s", path, strerror(errno));
	if (pthread_create(&t, NULL, hold_writer, &w) != 0)
		trigger_fail("hold: starting the writer");

	struct pollfd pfd = {.fd = uffd, .events = POLLIN};
	if (poll(&pfd, 1, 5000) != 1 || read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		trigger_fail("hold: the write did not fault on its page");
	hold_let(1);
	hold_wait(1, 1);
	hold_let(2);
	hold_wait(2, stage2);

	zero.range = reg.range;
	if (ioctl(uffd, UFFDIO_ZEROPAGE, &zero) != 0)
		trigger_fail("hold: supplying the page: %s", strerror(errno));
	pthread_join(t, NULL);
	if (w.ret != 1)
		trigger_fail("hold: the write returned %ld", w.ret);
	/* Wait for the deletions to return, then make ready for another
	 * batch. */
	for (int s = 1; s <= 2; s++) {
		for (int k = 0; k < (s == 1 ? 1 : stage2); k++) {
			while (!__atomic_load_n(&hold_done[s][k], __ATOMIC_SEQ_CST))
				sched_yield();
		}
	}
	memset(hold_tid, 0, sizeof(hold_tid));
	memset(hold_done, 0, sizeof(hold_done));
	memset(hold_n, 0, sizeof(hold_n));
	__atomic_store_n(&hold_gate, 0, __ATOMIC_SEQ_CST);
	close(w.fd);
	munmap(w.buf, page);
	close(uffd);
	return 0;
}

static long file_op(char **w)
{
	struct trigger_at at = trigger_at(w[2], w[3]);
	char path[4096], newpath[4096];
	int nobody = (int)trigger_number(w[7]);
	int stage = (int)trigger_number(w[8]), slot = 0;
	const char *call = w[1];
	long r;

	trigger_bytes(w[4], path, sizeof(path));
	trigger_bytes(w[5], newpath, sizeof(newpath));
	if (strcmp(call, "hold") == 0) {
		trigger_at_done(&at);
		return hold_op(path, (int)trigger_number(w[6]));
	}
	if (stage < 0 || stage > 2)
		trigger_fail("bad stage %d", stage);
	/* syscall(2), not setresuid(3): glibc would change every thread. */
	if (nobody && syscall(SYS_setresuid, -1, NOBODY, -1) != 0)
		trigger_fail("becoming nobody: %s", strerror(errno));
	if (stage)
		slot = hold_enter(stage);
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
	if (stage)
		__atomic_store_n(&hold_done[stage][slot], 1, __ATOMIC_SEQ_CST);
	if (nobody)
		syscall(SYS_setresuid, -1, 0, -1);
	trigger_at_done(&at);
	return r;
}

static const struct trigger_op ops[] = {{"lab2.file", 8, file_op}, {0}};

int trigger_call(int argc, char **argv) { return (int)trigger_dispatch(ops, argc, argv); }

int main(void) { return trigger_main(); }
