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
 * returns. Include it in one file only. */
#ifndef BPFLAB_TRIGGER_H
#define BPFLAB_TRIGGER_H

#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TRIGGER_MAX_WORDS 8
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

static int trigger_gettid(void) { return (int)syscall(SYS_gettid); }

/* One line, one write(2): a line is never torn. */
static void trigger_say(const char *line)
{
	size_t n = strlen(line);

	if (write(1, line, n) != (ssize_t)n)
		exit(3);
}

static void trigger_run(int thread)
{
	char line[96];

	for (int i = trigger_start; i <= trigger_end; i++) {
		struct trigger_plan_call *c = &trigger_calls[i];
		long ret;

		if (c->thread != thread)
			continue;
		ret = trigger_call(c->argc, c->argv);
		snprintf(line, sizeof(line), "{\"i\":%d,\"tid\":%d,\"ret\":%ld}\n", i, trigger_gettid(), ret);
		trigger_say(line);
	}
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
		trigger_generation++;
		pthread_cond_broadcast(&trigger_cv);
		pthread_mutex_unlock(&trigger_mu);
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
