// Package all registers every lab: import it for its side effect, as the
// bpflab command does. A new lab adds its import here.
package all

import (
	_ "github.com/bpflab/bpflab/labs/lab-1"
	_ "github.com/bpflab/bpflab/labs/lab-2"
)
