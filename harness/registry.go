package harness

import (
	"fmt"
	"sort"
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
