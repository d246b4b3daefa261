/* What the known-wrong programs share with the starter, so that each file
 * shows only its one mistake. (No license here: one file lacks it.) */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lab1.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");
