// Package all registers every lab: import it for its side effect, as the
// bpflab command does. A new lab adds its import here.
package all

import (
	_ "github.com/bpflab/bpflab/labs/lab-1"
	_ "github.com/bpflab/bpflab/labs/lab-2"
	_ "github.com/bpflab/bpflab/labs/lab-3"
	_ "github.com/bpflab/bpflab/labs/lab-4"
	_ "github.com/bpflab/bpflab/labs/lab-5"
	_ "github.com/bpflab/bpflab/labs/lab-6"
	_ "github.com/bpflab/bpflab/labs/lab-7"
)
