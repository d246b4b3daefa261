// Package harness grades eBPF labs. It compiles a student's BPF C file with
// clang in a sandbox ([Compile]), loads it with cilium/ebpf (explaining
// verifier rejections, [LoadChecks]), and runs the lab's scenario: trigger
// processes ([Scenario], [Launcher]) with random ordinary names and extra
// threads make the lab's calls (its C trigger, [Lab.Trigger], or operations
// registered with [RegisterOp]) while the program is
// attached; [RunScene] collects the events the program sends and [Judge]
// compares them with the lab's rule ([Oracle]), the smallest failing case
// of each check reported in words ([Record]).
//
// A lab is a [Lab] value registered with [Register]. Compiling happens on
// the host ([CompileAll]); loading, triggering and checking happen in a
// guest kernel ([GradeInVM]), where [GuestMain] grades each object in a
// supervised worker process ([Supervise], [WorkerMain]). A [Report] per
// submission travels back as JSON.
package harness
