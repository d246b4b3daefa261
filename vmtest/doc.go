// Package vmtest boots a Linux kernel in QEMU and runs one program inside it,
// returning the program's output and exit code exactly as if it had run on
// the host.
//
// The guest is an initramfs built on the fly: the bpflab binary itself is its
// PID 1 (see [GuestInit]), next to the payload, the payload's package
// directory, and any shared libraries the payload needs. The init mounts the
// pseudo file systems eBPF programs rely on (proc, sysfs, tracefs, debugfs,
// bpffs, cgroup2, securityfs), runs the payload and powers the machine off.
//
// Host and guest talk over two serial ports: the first carries the kernel
// console, the second a framed channel (see [Frame]) on which the init sends
// the payload's stdout and stderr, files the payload wrote, and its exit
// status. The payload never writes to that port itself, so test output cannot
// forge an exit code.
//
// Start with [Run]. Kernels are found and fetched by package
// [github.com/bpflab/bpflab/vmtest/kernels].
package vmtest
