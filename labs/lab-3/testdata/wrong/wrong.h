/* The reference solution with knobs, so that each known-wrong program
 * shows only its one mistake: it defines a knob, then includes this file.
 *
 *   ENTRY_SEC, RETURN_SEC  where the programs attach
 *   KEY_OF(id)             the inflight map's key for a pid_tgid
 *   PID_OF(id)             the pid an event reports
 *   READ_USER(dst, src)    how the user string is copied
 *   PIN_TYPE               the type the pin is kept in
 *   READ_AT_RETURN         keep the user pointer, copy the string at return
 *   REPORT_AT_ENTRY        send the event from the uprobe, with ret 0
 *   ONCE_PER_PROCESS       report only a process's first call
 *   SKIP_NO_USER           send nothing when check_pin returns -1
 *   INFLIGHT_TYPE          the inflight map's type
 *   NO_DELETE              leave the inflight entry when the call returns
 *   DEDUP                  report a (process, user, pin) only once
 *   MAX_PER_PROCESS        report at most this many calls of a process
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "lab3.h"

#ifndef ENTRY_SEC
#define ENTRY_SEC "uprobe/pinlock:check_pin"
#define RETURN_SEC "uretprobe/pinlock:check_pin"
#endif
#ifndef KEY_OF
#define KEY_OF(id) (id)
#endif
#ifndef PID_OF
#define PID_OF(id) ((id) >> 32)
#endif
#ifndef READ_USER
#define READ_USER(dst, src) bpf_probe_read_user_str(dst, sizeof(dst), src)
#endif
#ifndef PIN_TYPE
#define PIN_TYPE __s32
#endif
#ifndef INFLIGHT_TYPE
#define INFLIGHT_TYPE BPF_MAP_TYPE_HASH
#endif
#ifdef NO_DELETE
#define DELETE_INFLIGHT(key) 0
#else
#define DELETE_INFLIGHT(key) bpf_map_delete_elem(&inflight, key)
#endif

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct args {
	PIN_TYPE pin;
	char user[USER_LEN];
	const char *uptr;
};

struct {
	__uint(type, INFLIGHT_TYPE);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct args);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u8);
} reported SEC(".maps");

#ifdef DEDUP
struct seen_key {
	__u32 pid;
	__s32 pin;
	char user[USER_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, struct seen_key);
	__type(value, __u8);
} seen SEC(".maps");
#endif

#ifdef MAX_PER_PROCESS
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u32);
} sent SEC(".maps");
#endif

static __always_inline void report(__u64 id, struct args *a, int ret)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return;
	e->pid = PID_OF(id);
	e->pin = a->pin;
	e->ret = ret;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	__builtin_memcpy(e->user, a->user, sizeof(e->user));
	bpf_ringbuf_submit(e, 0);
}

SEC(ENTRY_SEC)
int BPF_KPROBE(on_check_pin, const char *user, int pin)
{
	__u64 id = bpf_get_current_pid_tgid(), key = KEY_OF(id);
	struct args a = {.pin = pin, .uptr = user};

#ifndef READ_AT_RETURN
	READ_USER(a.user, user);
#endif
#ifdef REPORT_AT_ENTRY
	report(id, &a, 0);
#else
	bpf_map_update_elem(&inflight, &key, &a, BPF_ANY);
#endif
	return 0;
}

SEC(RETURN_SEC)
int BPF_KRETPROBE(on_check_pin_return, int ret)
{
	__u64 id = bpf_get_current_pid_tgid(), key = KEY_OF(id);
	struct args *a = bpf_map_lookup_elem(&inflight, &key);

	if (!a)
		return 0;
#ifdef SKIP_NO_USER
	if (ret < 0) {
		DELETE_INFLIGHT(&key);
		return 0;
	}
#endif
#ifdef READ_AT_RETURN
	READ_USER(a->user, a->uptr);
#endif
#ifdef ONCE_PER_PROCESS
	__u32 pid = id >> 32;
	__u8 one = 1;

	if (bpf_map_lookup_elem(&reported, &pid)) {
		DELETE_INFLIGHT(&key);
		return 0;
	}
	bpf_map_update_elem(&reported, &pid, &one, BPF_ANY);
#endif
#ifdef DEDUP
	struct seen_key k = {.pid = id >> 32, .pin = a->pin};
	__u8 yes = 1;

	__builtin_memcpy(k.user, a->user, sizeof(k.user));
	if (bpf_map_update_elem(&seen, &k, &yes, BPF_NOEXIST)) {
		DELETE_INFLIGHT(&key);
		return 0;
	}
#endif
#ifdef MAX_PER_PROCESS
	__u32 tgid = id >> 32, first = 1, *n = bpf_map_lookup_elem(&sent, &tgid);

	if (!n) {
		bpf_map_update_elem(&sent, &tgid, &first, BPF_NOEXIST);
	} else if (*n >= MAX_PER_PROCESS) {
		DELETE_INFLIGHT(&key);
		return 0;
	} else {
		__sync_fetch_and_add(n, 1);
	}
#endif
	report(id, a, ret);
	DELETE_INFLIGHT(&key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
