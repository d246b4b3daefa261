// Known wrong: a Go program that walks the cgroup tree once, when it
// starts, and never again.
package main

import (
	"github.com/bpflab/bpflab/labs/lab-7/internal/wrong"
	"github.com/bpflab/bpflab/labs/lab-7/kube"
)

func main() {
	kube.Main(wrong.Parser(wrong.NoRefresh), wrong.NewResolver(wrong.NoRefresh))
}
