/* Lab 7: the event your program sends to the grader. Do not change it: the
 * grader decodes exactly this layout. */
#ifndef BPFLAB_LAB7_H
#define BPFLAB_LAB7_H

#define COMM_LEN 16

struct event {
	__u64 cgroup_id;      /* the opener's cgroup (v2) id */
	__u32 pid;            /* process id of the opener (not the thread id) */
	char comm[COMM_LEN];  /* its command name, NUL-terminated */
};

/* Puts struct event into the object's type information (BTF), so the
 * grader can check that it decodes the layout your program writes. */
struct event *lab7_event_layout __attribute__((unused));

#endif
