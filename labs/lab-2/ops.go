package lab2

import (
	"strconv"
	"syscall"

	"github.com/bpflab/bpflab/harness"
)

// FileArgs are the arguments of one file operation a trigger makes.
type FileArgs struct {
	// Call is unlink, unlinkat, rmdir, creat, rename, mkdir, link or open;
	// or hold, a write to Path that keeps the deletions of its batch
	// inside the deleting function together (see trigger.c).
	Call string `json:"call"`
	// Dir, if set, is opened first and its descriptor passed as dirfd
	// (unlinkat); Cwd, if set, is the working directory during the call.
	Dir string `json:"dir,omitempty"`
	Cwd string `json:"cwd,omitempty"`
	// Path is the name passed; NewPath the second one (rename, link).
	Path    string `json:"path"`
	NewPath string `json:"newpath,omitempty"`
	// Flags of unlinkat (AT_REMOVEDIR); for hold, how many deletions of
	// stage 2 it waits for.
	Flags int `json:"flags,omitempty"`
	// Stage, for a deletion in a batch with a hold: 1 for the deletion of
	// the held file, which the hold lets start first, 2 for the others,
	// which start once that one waits inside the function.
	Stage int `json:"stage,omitempty"`
	// Nobody makes the call with effective uid 65534 (on this thread only).
	Nobody bool `json:"nobody,omitempty"`
	// Want is the errno the scenario planned for the call (0: it deletes);
	// it chooses the check that judges the return event.
	Want syscall.Errno `json:"want,omitempty"`
}

// opFile is the lab's trigger operation, made by trigger.c.
const opFile = "lab2.file"

// Words are the call's words for trigger.c.
func (a FileArgs) Words() []string {
	return []string{a.Call, harness.Word(a.Dir), harness.Word(a.Cwd), harness.Word(a.Path),
		harness.Word(a.NewPath), strconv.Itoa(a.Flags), harness.Flag(a.Nobody), strconv.Itoa(a.Stage)}
}
