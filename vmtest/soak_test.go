package vmtest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/bpflab/bpflab/internal/testvm"
	"github.com/bpflab/bpflab/vmtest"
)

// soakCase is one kind of run and the outcome it must end in.
type soakCase struct {
	name     string
	payload  string
	mod      func(*vmtest.Config, *vmtest.Job)
	class    vmtest.Class // 0: the payload ran to its end
	exit     int          // with class 0, its exit code
	deadline time.Duration
}

var soakCases = []soakCase{
	{name: "pass", payload: "exit0", exit: 0, deadline: 90 * time.Second},
	{name: "exit 3", payload: "exit3", exit: 3, deadline: 90 * time.Second},
	{name: "go panic", payload: "panic", exit: 2, deadline: 90 * time.Second},
	{name: "timeout", payload: "hang", class: vmtest.ClassTimeout, deadline: 90 * time.Second,
		mod: func(c *vmtest.Config, j *vmtest.Job) { c.RunTimeout = 2 * time.Second }},
	{name: "kernel panic", payload: "exit0", class: vmtest.ClassPanic, deadline: 90 * time.Second,
		mod: func(c *vmtest.Config, j *vmtest.Job) { c.Cmdline = "rdinit=/nonexistent" }},
	{name: "boot hang", payload: "exit0", class: vmtest.ClassBootHang, deadline: 30 * time.Second,
		mod: func(c *vmtest.Config, j *vmtest.Job) { c.QEMUArgs = []string{"-S"}; c.BootTimeout = 3 * time.Second }},
	{name: "out of memory", class: vmtest.ClassOOM, deadline: 90 * time.Second,
		mod: func(c *vmtest.Config, j *vmtest.Job) {
			c.MemoryMiB = 128
			j.Args = []string{"/bin/sh", "-c", "x=aaaaaaaa; while :; do x=$x$x; done"}
		}},
}

// TestSoak boots the matrix $BPFLAB_SOAK times in all ('make soak' sets
// 200), cycling through kernels and failure cases, two guests at a time.
// Every run must end in its expected class, within its deadline.
func TestSoak(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("BPFLAB_SOAK"))
	if n <= 0 {
		t.Skip("a long test: run it with 'make soak' (BPFLAB_SOAK=200)")
	}
	ks := testvm.Kernels(t)
	type outcome struct {
		kernel, cas string
		ok, late    bool
		got         string
		took        time.Duration
	}
	cache := t.TempDir()
	jobs := make(chan int)
	results := make(chan outcome)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				k := ks[i%len(ks)]
				c := soakCases[(i/len(ks))%len(soakCases)]
				// Every other round of the cases restores a saved guest.
				warm := (i/(len(ks)*len(soakCases)))%2 == 1
				mod, name := c.mod, c.name
				if warm {
					name += " (warm)"
					mod = func(cfg *vmtest.Config, j *vmtest.Job) {
						cfg.CacheDir = cache
						if c.mod != nil {
							c.mod(cfg, j)
						}
					}
				}
				start := time.Now()
				res, _, _, err := bootWith(t, k, c.payload, mod, false)
				took := time.Since(start)
				o := outcome{kernel: k.Alias, cas: name, took: took, late: took > c.deadline}
				switch {
				case err != nil:
					o.got = vmtest.ClassOf(err).String()
					o.ok = vmtest.ClassOf(err) == c.class
				default:
					o.got = fmt.Sprintf("exit %d", res.Status.ShellCode())
					o.ok = c.class == 0 && res.Status.ShellCode() == c.exit
				}
				results <- o
			}
		}()
	}
	go func() {
		for i := 0; i < n; i++ {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()

	type row struct {
		runs, ok, late int
		maxTook, total time.Duration
	}
	rows := map[string]*row{}
	var bad []outcome
	for o := range results {
		r := rows[o.cas]
		if r == nil {
			r = &row{}
			rows[o.cas] = r
		}
		r.runs++
		r.total += o.took
		if o.ok {
			r.ok++
		} else {
			bad = append(bad, o)
		}
		if o.late {
			r.late++
		}
		if o.took > r.maxTook {
			r.maxTook = o.took
		}
	}
	var names []string
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	out := &syncWriter{}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "| case\t| runs\t| expected class\t| unclassified\t| past deadline\t| mean (s)\t| max (s)\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
	total, unclassified, late := 0, 0, 0
	for _, n := range names {
		r := rows[n]
		fmt.Fprintf(tw, "| %s\t| %d\t| %d\t| %d\t| %d\t| %.1f\t| %.1f\t|\n", n, r.runs, r.ok, r.runs-r.ok, r.late,
			r.total.Seconds()/float64(r.runs), r.maxTook.Seconds())
		total += r.runs
		unclassified += r.runs - r.ok
		late += r.late
	}
	tw.Flush()
	t.Logf("soak: %d boots, %d unclassified, %d past their deadline\n%s", total, unclassified, late, out.String())
	if p := os.Getenv("BPFLAB_SOAK_REPORT"); p != "" {
		os.WriteFile(filepath.Clean(p), []byte(out.String()), 0o644)
	}
	for _, o := range bad {
		t.Errorf("%s on %s ended as %s (after %v)", o.cas, o.kernel, o.got, o.took.Round(time.Millisecond))
	}
	if late > 0 {
		t.Errorf("%d runs went past their deadline", late)
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}
