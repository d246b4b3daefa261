// SPDX-License-Identifier: GPL-2.0
/* bpflab_trigger.h: makes a lab's C program a trigger of the grader
 * (see harness.LinePlan). The program defines
 *
 *	int trigger_call(int argc, char **argv);
 *
 * which makes one planned call (argv[0] is the operation, the rest its
 * words) and returns what the call returned, and calls trigger_main() from
 * main. trigger_main reads the plan on standard input ("THREADS CALLS",
 * then "THREAD ASYNC OP WORDS..." per call), starts the threads, writes
 * {"tids":[...]}, waits for the go byte, and makes the calls in batches
 * (consecutive async calls and the one after them run at once, each
 * thread its own in order), writing {"i":I,"tid":T,"ret":R} as each
 * returns. Include it in one file only.
 *
 * A call that fails sets trigger_errno (reported as "errno") and may set
 * trigger_note ("note"); words that carry bytes (paths) come hex-encoded,
 * "-" for none (harness.Word), and trigger_bytes decodes them. trigger_at
 * prepares a call's directory descriptor and working directory without
 * openat(2), and trigger_fail ends the process when a call cannot be set
 * up (a bug in the lab, not in the student's program). A trigger whose
 * only work is its operations (a lab's trigger.c) makes trigger_call
 * trigger_dispatch of a table of them. */
#ifndef BPFLAB_TRIGGER_H
#define BPFLAB_TRIGGER_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TRIGGER_MAX_WORDS 16
#define TRIGGER_HELPER static __attribute__((unused))
#define TRIGGER_MAX_THREADS 64

int trigger_call(int argc, char **argv);

struct trigger_plan_call {
	int thread, async, argc;
	char *argv[TRIGGER_MAX_WORDS];
};

static struct trigger_plan_call *trigger_calls;
static int trigger_ncalls, trigger_nthreads;
static int trigger_start, trigger_end, trigger_generation, trigger_finished, trigger_started;
static int trigger_tids[TRIGGER_MAX_THREADS + 1];
static pthread_mutex_t trigger_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t trigger_cv = PTHREAD_COND_INITIALIZER;

/* What the current call reports besides its return value; trigger_run
 * clears both before each call. */
static __thread int trigger_errno;
static __thread const char *trigger_note;

static int trigger_gettid(void) { return (int)syscall(SYS_gettid); }

TRIGGER_HELPER void trigger_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "trigger: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

TRIGGER_HELPER int trigger_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* trigger_bytes decodes word (hex, or "-" for none) into buf, NUL
 * terminated, and returns its length; a word that is not hex, or longer
 * than buf, ends the process. Writing buf faults its page in, so the page
 * is there when a BPF program at the call's entry reads it. */
TRIGGER_HELPER size_t trigger_bytes(const char *word, char *buf, size_t cap)
{
	size_t n = 0;

	if (strcmp(word, "-") != 0) {
		for (const char *p = word; p[0]; p += 2) {
			int hi = trigger_hex(p[0]), lo = p[1] ? trigger_hex(p[1]) : -1;

			if (hi < 0 || lo < 0 || n + 1 >= cap)
				trigger_fail("bad or too long word %.40s", word);
			buf[n++] = (char)(hi << 4 | lo);
		}
	}
	buf[n] = 0;
	return n;
}

TRIGGER_HELPER long trigger_number(const char *word)
{
	char *end;
	long v = strtol(word, &end, 0);

	if (!*word || *end)
		trigger_fail("bad number %.40s", word);
	return v;
}

/* trigger_open_path opens a directory with open(2), O_PATH: never
 * openat(2), which a lab hooks. */
TRIGGER_HELPER int trigger_open_path(const char *path)
{
	return (int)syscall(SYS_open, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

struct trigger_at {
	int dirfd, dir, back;
};

/* trigger_at prepares where a call is made: a descriptor of dir (hex
 * word) to pass as dirfd, AT_FDCWD for none, and cwd (hex word) as the
 * working directory meanwhile; trigger_at_done undoes both. */
TRIGGER_HELPER struct trigger_at trigger_at(const char *dir, const char *cwd)
{
	struct trigger_at at = {AT_FDCWD, -1, -1};
	char buf[4096];

	if (trigger_bytes(dir, buf, sizeof(buf)) > 0) {
		at.dir = trigger_open_path(buf);
		if (at.dir < 0)
			trigger_fail("opening %s: %s", buf, strerror(errno));
		at.dirfd = at.dir;
	}
	if (trigger_bytes(cwd, buf, sizeof(buf)) > 0) {
		at.back = trigger_open_path(".");
		if (at.back < 0 || syscall(SYS_chdir, buf) != 0)
			trigger_fail("changing to %s: %s", buf, strerror(errno));
	}
	return at;
}

TRIGGER_HELPER void trigger_at_done(struct trigger_at *at)
{
	if (at->back >= 0) {
		syscall(SYS_fchdir, at->back);
		close(at->back);
	}
	if (at->dir >= 0)
		close(at->dir);
}

/* An operation a trigger makes: its name, how many words it takes, and
 * the function that makes it (argv[0] is the name). */
struct trigger_op {
	const char *name;
	int words;
	long (*fn)(char **argv);
};

/* trigger_dispatch makes the call argv names, from ops (ended by an entry
 * with no name): a lab's trigger_call is this with its table. */
TRIGGER_HELPER long trigger_dispatch(const struct trigger_op *ops, int argc, char **argv)
{
	for (; ops->name; ops++) {
		if (strcmp(ops->name, argv[0]) == 0 && ops->words == argc - 1)
			return ops->fn(argv);
	}
	trigger_fail("unknown call %s with %d words", argv[0], argc - 1);
	return 0;
}

/* One line, one write(2): a line is never torn. */
static void trigger_say(const char *line)
{
	size_t n = strlen(line);

	if (write(1, line, n) != (ssize_t)n)
		exit(3);
}

static void trigger_run(int thread)
{
	char line[192];

	for (int i = trigger_start; i <= trigger_end; i++) {
		struct trigger_plan_call *c = &trigger_calls[i];
		long ret;
		int n;

		if (c->thread != thread)
			continue;
		trigger_errno = 0;
		trigger_note = NULL;
		ret = trigger_call(c->argc, c->argv);
		n = snprintf(line, sizeof(line), "{\"i\":%d,\"tid\":%d,\"ret\":%ld", i, trigger_gettid(), ret);
		if (trigger_errno)
			n += snprintf(line + n, sizeof(line) - n, ",\"errno\":%d", trigger_errno);
		if (trigger_note)
			n += snprintf(line + n, sizeof(line) - n, ",\"note\":\"%.64s\"", trigger_note);
		snprintf(line + n, sizeof(line) - n, "}\n");
		trigger_say(line);
	}
}

/* How many threads have reached the start of the batch. */
static int trigger_arrived;

/* trigger_rendezvous holds each thread at the start of a batch of several
 * calls until every thread is there, so the calls start together: a
 * thread woken on another CPU would otherwise start late, and a short
 * call could be over before the other threads ran at all. */
static void trigger_rendezvous(void)
{
	if (trigger_end == trigger_start)
		return;
	__atomic_add_fetch(&trigger_arrived, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&trigger_arrived, __ATOMIC_SEQ_CST) < trigger_nthreads + 1)
		sched_yield();
}

static void *trigger_worker(void *arg)
{
	int thread = (int)(long)arg, seen = 0;

	pthread_mutex_lock(&trigger_mu);
	trigger_tids[thread] = trigger_gettid();
	trigger_started++;
	pthread_cond_broadcast(&trigger_cv);
	pthread_mutex_unlock(&trigger_mu);
	for (;;) {
		pthread_mutex_lock(&trigger_mu);
		while (trigger_generation == seen)
			pthread_cond_wait(&trigger_cv, &trigger_mu);
		seen = trigger_generation;
		pthread_mutex_unlock(&trigger_mu);
		trigger_rendezvous();
		trigger_run(thread);
		pthread_mutex_lock(&trigger_mu);
		trigger_finished++;
		pthread_cond_broadcast(&trigger_cv);
		pthread_mutex_unlock(&trigger_mu);
	}
	return NULL;
}

/* trigger_read_plan reads the plan; each call's words stay in one line
 * buffer of their own. */
static int trigger_read_plan(void)
{
	char *line = NULL;
	size_t cap = 0;

	if (getline(&line, &cap, stdin) < 0 || sscanf(line, "%d %d", &trigger_nthreads, &trigger_ncalls) != 2 ||
	    trigger_nthreads < 0 || trigger_nthreads > TRIGGER_MAX_THREADS || trigger_ncalls < 0)
		return -1;
	trigger_calls = calloc(trigger_ncalls + 1, sizeof(*trigger_calls));
	for (int i = 0; i < trigger_ncalls; i++) {
		struct trigger_plan_call *c = &trigger_calls[i];
		char *save = NULL, *w;

		line = NULL;
		cap = 0;
		if (getline(&line, &cap, stdin) < 0)
			return -1;
		line[strcspn(line, "\n")] = 0;
		w = strtok_r(line, " ", &save);
		if (!w || sscanf(w, "%d", &c->thread) != 1 || c->thread < 0 || c->thread > trigger_nthreads)
			return -1;
		w = strtok_r(NULL, " ", &save);
		if (!w || sscanf(w, "%d", &c->async) != 1)
			return -1;
		while ((w = strtok_r(NULL, " ", &save)) && c->argc < TRIGGER_MAX_WORDS)
			c->argv[c->argc++] = w;
		if (c->argc == 0)
			return -1;
	}
	return 0;
}

static int trigger_main(void)
{
	char line[64 + 12 * (TRIGGER_MAX_THREADS + 1)], go;
	pthread_t t;
	int n;

	if (trigger_read_plan() != 0) {
		fprintf(stderr, "trigger: cannot read the plan\n");
		return 2;
	}
	trigger_tids[0] = trigger_gettid();
	for (long i = 1; i <= trigger_nthreads; i++) {
		if (pthread_create(&t, NULL, trigger_worker, (void *)i) != 0)
			return 2;
	}
	pthread_mutex_lock(&trigger_mu);
	while (trigger_started < trigger_nthreads)
		pthread_cond_wait(&trigger_cv, &trigger_mu);
	pthread_mutex_unlock(&trigger_mu);
	n = snprintf(line, sizeof(line), "{\"tids\":[%d", trigger_tids[0]);
	for (int i = 1; i <= trigger_nthreads; i++)
		n += snprintf(line + n, sizeof(line) - n, ",%d", trigger_tids[i]);
	snprintf(line + n, sizeof(line) - n, "]}\n");
	trigger_say(line);

	/* The go byte: this read(2) is where the grader waits to see it. */
	if (read(0, &go, 1) != 1)
		return 2;
	for (int start = 0; start < trigger_ncalls;) {
		int end = start;

		while (end < trigger_ncalls - 1 && trigger_calls[end].async)
			end++;
		pthread_mutex_lock(&trigger_mu);
		trigger_start = start;
		trigger_end = end;
		trigger_finished = 0;
		trigger_arrived = 0;
		trigger_generation++;
		pthread_cond_broadcast(&trigger_cv);
		pthread_mutex_unlock(&trigger_mu);
		trigger_rendezvous();
		trigger_run(0);
		pthread_mutex_lock(&trigger_mu);
		while (trigger_finished < trigger_nthreads)
			pthread_cond_wait(&trigger_cv, &trigger_mu);
		pthread_mutex_unlock(&trigger_mu);
		start = end + 1;
	}
	return 0;
}

#endif
