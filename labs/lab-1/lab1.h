/* Lab 1: the event your program sends to the grader. Do not change it: the
 * grader decodes exactly this layout. */
#ifndef BPFLAB_LAB1_H
#define BPFLAB_LAB1_H

#define COMM_LEN 16
#define PATH_LEN 256

struct event {
	__u32 pid;            /* process id of the opener (not the thread id) */
	char comm[COMM_LEN];  /* its command name, NUL-terminated */
	char path[PATH_LEN];  /* the filename argument of openat, NUL-terminated */
};

/* Puts struct event into the object's type information (BTF), so the
 * grader can check that it decodes the layout your program writes. */
struct event *lab1_event_layout __attribute__((unused));

#endif
