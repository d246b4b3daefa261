/* Lab 2: the events your programs send to the grader. Do not change it: the
 * grader decodes exactly this layout. */
#ifndef BPFLAB_LAB2_H
#define BPFLAB_LAB2_H

#define COMM_LEN 16
#define PATH_LEN 256

enum event_kind {
	EVENT_ENTRY = 1,   /* from the kprobe: a deletion starts */
	EVENT_RETURN = 2,  /* from the kretprobe: how it ended */
};

struct event {
	__u32 pid;            /* process id of the caller */
	__u32 kind;           /* enum event_kind */
	__s64 ret;            /* EVENT_RETURN: the function's return value */
	char comm[COMM_LEN];  /* the caller's command name */
	char path[PATH_LEN];  /* EVENT_ENTRY: the name passed to unlink/unlinkat */
};

/* Puts struct event into the object's type information (BTF), so the
 * grader can check that it decodes the layout your programs write. */
struct event *lab2_event_layout __attribute__((unused));

#endif
