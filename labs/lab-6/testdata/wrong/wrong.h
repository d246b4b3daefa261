/* What the known-wrong programs share: each defines how it decides,
 * decide(file), which is 0 to allow, then GUARD_PROGRAM. DENY is the
 * errno a denied open fails with (EPERM unless a program says otherwise).
 * The barrier keeps the result in a branch: computed without one (the
 * negation of a 0 or 1), the verifier cannot bound the return value. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lab6.h"

#ifndef DENY
#define DENY EPERM
#endif

#define GUARD_PROGRAM                                              \
	SEC("lsm/file_open")                                       \
	int BPF_PROG(guard_open, struct file *file, int ret)       \
	{                                                          \
		int deny;                                          \
		if (ret != 0)                                      \
			return ret;                                \
		deny = decide(file);                               \
		barrier_var(deny);                                 \
		if (deny)                                          \
			return -DENY;                              \
		return 0;                                          \
	}                                                          \
	char LICENSE[] SEC("license") = "GPL";
