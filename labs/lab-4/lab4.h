/* Lab 4: the events your programs send to the grader. Do not change it:
 * the grader decodes exactly this layout. */
#ifndef BPFLAB_LAB4_H
#define BPFLAB_LAB4_H

#define COMM_LEN 16
#define TEXT_LEN 64

enum event_kind {
	EVENT_PLACED = 1,  /* orders:placed fired */
	EVENT_AUDIT = 2,   /* orders:audit fired */
};

struct event {
	__u32 pid;            /* process id of the program that fired the probe */
	__u32 kind;           /* enum event_kind */
	__u64 id;             /* EVENT_PLACED: the order id (argument 1) */
	__s32 quantity;       /* EVENT_PLACED: the quantity (argument 3) */
	__s32 length;         /* EVENT_AUDIT: the record's length (argument 2) */
	char comm[COMM_LEN];  /* the process's command name */
	char text[TEXT_LEN];  /* EVENT_PLACED: the item (argument 2);
	                       * EVENT_AUDIT: the record (argument 1) */
};

/* Puts struct event into the object's type information (BTF), so the
 * grader can check that it decodes the layout your programs write. */
struct event *lab4_event_layout __attribute__((unused));

#endif
