//go:build ignore

// A probe in a shared library (or linked into the static executable).
#include <sys/sdt.h>

void in_library(int v)
{
	DTRACE_PROBE1(lab, library, v);
}
