// The lab's Go program: the grader runs it and asks it which pod each
// cgroup id belongs to. Your code is in pods.go; this file needs no change.
package main

import "github.com/bpflab/bpflab/labs/lab-7/kube"

func main() {
	kube.Main(Parse, func(root string) kube.Resolver { return NewResolver(root) })
}
