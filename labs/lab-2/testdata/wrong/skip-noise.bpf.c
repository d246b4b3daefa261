//go:build ignore
// SPDX-License-Identifier: GPL-2.0
#include "wrong.h"

/* Known wrong: "skips the noise": no events for paths under /proc, /sys,
 * /dev and /run, nor for editor and lock files (a name ending in '~',
 * ".swp", ".tmp" or ".lock"). Deleting /run/secrets/x or
 * /dev/shm/evidence, or a file named notes.tmp, goes unreported. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u32);
} muted SEC(".maps");

static __always_inline int noise(const char *p, long n)
{
	if (p[0] == '/' && ((p[1] == 'p' && p[2] == 'r' && p[3] == 'o' && p[4] == 'c' && p[5] == '/') ||
			    (p[1] == 's' && p[2] == 'y' && p[3] == 's' && p[4] == '/') ||
			    (p[1] == 'd' && p[2] == 'e' && p[3] == 'v' && p[4] == '/') ||
			    (p[1] == 'r' && p[2] == 'u' && p[3] == 'n' && p[4] == '/')))
		return 1;
	if (n < 6 || n > PATH_LEN)
		return 0;
	long l = n - 2; /* last char */
	if (p[l & (PATH_LEN - 1)] == '~')
		return 1;
	if (p[(l - 3) & (PATH_LEN - 1)] == '.' && p[(l - 2) & (PATH_LEN - 1)] == 's' &&
	    p[(l - 1) & (PATH_LEN - 1)] == 'w' && p[l & (PATH_LEN - 1)] == 'p')
		return 1;
	if (p[(l - 3) & (PATH_LEN - 1)] == '.' && p[(l - 2) & (PATH_LEN - 1)] == 't' &&
	    p[(l - 1) & (PATH_LEN - 1)] == 'm' && p[l & (PATH_LEN - 1)] == 'p')
		return 1;
	if (p[(l - 4) & (PATH_LEN - 1)] == '.' && p[(l - 3) & (PATH_LEN - 1)] == 'l' &&
	    p[(l - 2) & (PATH_LEN - 1)] == 'o' && p[(l - 1) & (PATH_LEN - 1)] == 'c' && p[l & (PATH_LEN - 1)] == 'k')
		return 1;
	return 0;
}

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 one = 1;
	struct event *e = start_event(EVENT_ENTRY);

	if (!e)
		return 0;
	long n = bpf_probe_read_kernel_str(e->path, sizeof(e->path), BPF_CORE_READ(name, name));
	if (noise(e->path, n)) {
		bpf_ringbuf_discard(e, 0);
		bpf_map_update_elem(&muted, &id, &one, BPF_ANY);
		return 0;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(on_unlink_ret, int ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (bpf_map_lookup_elem(&muted, &id)) {
		bpf_map_delete_elem(&muted, &id);
		return 0;
	}
	struct event *e = start_event(EVENT_RETURN);
	if (!e)
		return 0;
	e->ret = ret;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
