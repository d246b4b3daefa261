/* Lab 3: the event your programs send to the grader, one per call of
 * check_pin. Do not change it: the grader decodes exactly this layout. */
#ifndef BPFLAB_LAB3_H
#define BPFLAB_LAB3_H

#define COMM_LEN 16
#define USER_LEN 32

struct event {
	__u32 pid;            /* process id of the caller */
	__s32 pin;            /* check_pin's second argument */
	__s32 ret;            /* what check_pin returned */
	char comm[COMM_LEN];  /* the caller's command name */
	char user[USER_LEN];  /* check_pin's first argument, the string */
};

/* Puts struct event into the object's type information (BTF), so the
 * grader can check that it decodes the layout your programs write. */
struct event *lab3_event_layout __attribute__((unused));

#endif
