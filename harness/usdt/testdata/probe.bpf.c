//go:build ignore

// A USDT program built by the tests (with clang, when it is installed) to
// read the layout of usdt.bpf.h's structures from BTF and to check Prepare.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

#ifdef EXTRA_KCONFIG
// A second __kconfig extern, which Prepare refuses.
extern unsigned int LINUX_KERNEL_VERSION __kconfig;
#endif

// seen holds the last call's argument count, cookie and arguments.
__u64 seen[2 + BPF_USDT_MAX_ARG_CNT];

SEC("usdt")
int BPF_USDT(on_probe)
{
	long v;

	seen[0] = bpf_usdt_arg_cnt(ctx);
	seen[1] = bpf_usdt_cookie(ctx);
#ifdef EXTRA_KCONFIG
	seen[1] += LINUX_KERNEL_VERSION;
#endif
	for (int i = 0; i < BPF_USDT_MAX_ARG_CNT; i++) {
		if (bpf_usdt_arg(ctx, i, &v))
			break;
		seen[2 + i] = v;
	}
	return 0;
}
