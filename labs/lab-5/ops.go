package lab5

import (
	"strconv"
	"strings"

	"github.com/bpflab/bpflab/harness"
)

// CountArgs are one call of this lab's trigger operation: Opens openat(2)
// calls of Path (none: a NULL name) with Flags, relative to a descriptor of
// the directory Dir (none: AT_FDCWD), then read(2) calls with each of Sizes
// as the byte count, Repeat times over. With Meet, the call first waits
// until Meet calls of its process are there, spinning, and they leave
// together (once in a process: the calls of one batch on all its threads).
type CountArgs struct {
	Meet   int      `json:"meet,omitempty"`
	Opens  int      `json:"opens,omitempty"`
	Path   string   `json:"path,omitempty"`
	Sizes  []uint64 `json:"sizes,omitempty"`
	Repeat int      `json:"repeat,omitempty"`
	Dir    string   `json:"dir,omitempty"`
	Flags  int      `json:"flags,omitempty"`
}

// reads is how many read(2) calls a call makes.
func (a CountArgs) reads() int { return len(a.Sizes) * max(a.Repeat, 1) }

// opCount is the lab's trigger operation, made by trigger.c. Its reads go
// to a descriptor that is not open, so they fail at once whatever their
// byte count (the count is what the lab measures, not the bytes read),
// and its opens of a file that exists are closed at once. No path:
// openat gets a NULL name and fails at once with EFAULT, after the hook
// at its entry has run: the cheapest call to count.
const opCount = "lab5.count"

// Words are the call's words for trigger.c.
func (a CountArgs) Words() []string {
	sizes := make([]string, len(a.Sizes))
	for i, n := range a.Sizes {
		sizes[i] = strconv.FormatUint(n, 10)
	}
	joined := strings.Join(sizes, ",")
	if joined == "" {
		joined = "-"
	}
	return []string{strconv.Itoa(a.Meet), strconv.Itoa(a.Opens), harness.Word(a.Path), joined, strconv.Itoa(a.Repeat), harness.Word(a.Dir), strconv.Itoa(a.Flags)}
}
