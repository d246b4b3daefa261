// Package harness grades eBPF labs: it compiles a student's BPF C file with
// clang, loads it with cilium/ebpf (explaining verifier rejections), runs
// triggers in child processes with a known pid and comm, collects the
// events the program emits, and turns all of it into named checks that
// pass, fail or skip with a reason and a hint.
//
// Compiling happens on the host ([Compile]); loading, triggering and
// checking happen in a guest kernel, in the same bpflab binary started as
// the payload ([Lab.Grade]). A [Report] travels back as JSON.
package harness
