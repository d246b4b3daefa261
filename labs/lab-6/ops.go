package lab6

import (
	"strconv"

	"github.com/bpflab/bpflab/harness"
)

// OpenArgs are one open a trigger makes.
type OpenArgs struct {
	// Kind names the case (see cases); the report describes it.
	Kind string `json:"kind"`
	// Path is opened relative to Dir when Dir is set (openat with a
	// descriptor of Dir), in Cwd when Cwd is set.
	Path string `json:"path"`
	Dir  string `json:"dir,omitempty"`
	Cwd  string `json:"cwd,omitempty"`
	// Reopen opens Path with O_PATH first (which checks no permission and
	// runs no file_open hook), then opens /proc/self/fd/N of that.
	Reopen bool `json:"reopen,omitempty"`
	Flags  int  `json:"flags"`
	// Comm, when set, is the name of the calling thread for the open
	// (prctl PR_SET_NAME): a name a program might trust.
	Comm string `json:"comm,omitempty"`
	// Repeat, when more than 1, opens that many times in a row, until
	// an open is not denied as the ones before.
	Repeat int `json:"repeat,omitempty"`
}

// opOpen is the lab's trigger operation, made by trigger.c. Its helper
// opens are O_PATH, which the file_open hook never sees, so the only open
// a program can judge is the one the case is about. Ret is 1 when the
// open succeeded and a byte (or a directory entry) could be read.
const opOpen = "lab6.open"

// Words are the call's words for trigger.c.
func (a OpenArgs) Words() []string {
	return []string{harness.Word(a.Path), harness.Word(a.Dir), harness.Word(a.Cwd), harness.Flag(a.Reopen), strconv.Itoa(a.Flags),
		harness.Word(a.Comm), strconv.Itoa(max(a.Repeat, 1))}
}
