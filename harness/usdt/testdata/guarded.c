//go:build ignore

// A probe guarded by its semaphore, as `dtrace -h` headers write it: the
// semaphore is the counter in .probes that the kernel raises while a
// uprobe with a ref_ctr_offset is attached.
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short lab_guarded_semaphore __attribute__((unused)) __attribute__((section(".probes")));

#define LAB_GUARDED_ENABLED() __builtin_expect(lab_guarded_semaphore, 0)

void guarded(int v)
{
	if (LAB_GUARDED_ENABLED())
		DTRACE_PROBE1(lab, guarded, v);
}
