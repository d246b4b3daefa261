// A hostile Go program: right answers, but first it tries to take the
// grader down and to leave the cgroup it runs in. The grader runs it as
// nobody, so every attempt fails and it is graded like any right program;
// if one succeeded, its grade would show it.
package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/bpflab/bpflab/labs/lab-7/internal/wrong"
	"github.com/bpflab/bpflab/labs/lab-7/kube"
)

func main() {
	try := func(what string, err error) { fmt.Fprintf(os.Stderr, "%s: %v\n", what, err) }
	try("kill the grader", syscall.Kill(os.Getppid(), syscall.SIGKILL))
	try("kill every process", syscall.Kill(-1, syscall.SIGKILL))
	try("leave the cgroup", os.WriteFile("/sys/fs/cgroup/cgroup.procs", []byte(fmt.Sprint(os.Getpid())), 0))
	try("remove the pods", os.RemoveAll("/sys/fs/cgroup/kubepods.slice"))
	kube.Main(wrong.Parser(wrong.None), wrong.NewResolver(wrong.None))
}
