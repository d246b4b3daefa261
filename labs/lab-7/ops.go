package lab7

import (
	"strconv"

	"github.com/bpflab/bpflab/harness"
)

// OpenArgs are the arguments of one openat(2) a trigger makes: dfd is a
// descriptor of Dir when set (which an absolute Path ignores), else
// AT_FDCWD.
type OpenArgs struct {
	Path  string `json:"path"`
	Dir   string `json:"dir,omitempty"`
	Flags int    `json:"flags"`
}

// opOpen is the lab's trigger operation, made by trigger.c: one openat,
// and nothing else that opens a file (it opens Dir with open(2)).
const opOpen = "lab7.openat"

// Words are the call's words for trigger.c.
func (a OpenArgs) Words() []string {
	return []string{harness.Word(a.Path), harness.Word(a.Dir), strconv.Itoa(a.Flags)}
}
