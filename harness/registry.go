package harness

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

var (
	labsMu sync.Mutex
	labs   = map[string]*Lab{}
)

// Register makes a lab known to the command: a lab package calls it from
// its init. Registering two labs with one ID panics.
func Register(l *Lab) {
	labsMu.Lock()
	defer labsMu.Unlock()
	if _, dup := labs[l.ID]; dup {
		panic(fmt.Sprintf("harness: lab %s registered twice", l.ID))
	}
	labs[l.ID] = l
}

// Labs returns the registered labs, ordered by ID.
func Labs() []*Lab {
	labsMu.Lock()
	defer labsMu.Unlock()
	out := make([]*Lab, 0, len(labs))
	for _, l := range labs {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// IndexMarkdown is the course's index as a Markdown table, a lab a row:
// its README, hook, what it teaches, level and kernels (README.md holds
// it).
func IndexMarkdown(labs []*Lab) string {
	var b strings.Builder
	b.WriteString("| lab | hook | what it teaches | level | kernels |\n|---|---|---|---|---|\n")
	for _, l := range labs {
		fmt.Fprintf(&b, "| [`%s`](%s/README.md) | %s | %s | %s | %s and later |\n", l.ID, l.Dir, l.Hook, l.Teaches, l.Level, l.MinKernel)
	}
	return b.String()
}
