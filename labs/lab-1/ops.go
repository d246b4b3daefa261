package lab1

import (
	"strconv"

	"github.com/bpflab/bpflab/harness"
)

// OpenArgs are the arguments of one openat(2) a trigger makes.
type OpenArgs struct {
	// Dir, if set, is opened first and its descriptor passed as dfd;
	// BadDfd, if not 0, is passed as dfd: a number that is no open
	// descriptor. Otherwise dfd is AT_FDCWD.
	Dir    string `json:"dir,omitempty"`
	BadDfd int    `json:"baddfd,omitempty"`
	// Cwd, if set, is the working directory during the call.
	Cwd string `json:"cwd,omitempty"`
	// Path is the filename argument; Tail are bytes in the same buffer
	// after its terminating NUL, which the kernel does not read.
	Path string `json:"path"`
	Tail string `json:"tail,omitempty"`
	// Flags and Mode are openat's.
	Flags int    `json:"flags"`
	Mode  uint32 `json:"mode,omitempty"`
	// Read reads a byte from the file once it is open.
	Read bool `json:"read,omitempty"`
	// PageEnd puts the name at the very end of a page whose next page is
	// not mapped (Tail is then not passed).
	PageEnd bool `json:"pageend,omitempty"`
}

// Numbers passed as dfd that are no open descriptor: a large one, and a
// negative one that is not AT_FDCWD (-100). An absolute name ignores dfd.
const (
	badDfd      = 977
	negativeDfd = -2
)

// opOpenat is the lab's trigger operation, made by trigger.c. Its helper
// calls (the directory it opens for dfd, the working directory it
// changes) use open(2) and chdir(2), never openat(2), so the only openat
// the program sees from it is the one the case is about.
const opOpenat = "lab1.openat"

// Words are the call's words for trigger.c.
func (a OpenArgs) Words() []string {
	return []string{harness.Word(a.Dir), strconv.Itoa(a.BadDfd), harness.Word(a.Cwd), harness.Word(a.Path),
		harness.Word(a.Tail), strconv.Itoa(a.Flags), strconv.FormatUint(uint64(a.Mode), 10), harness.Flag(a.Read), harness.Flag(a.PageEnd)}
}
