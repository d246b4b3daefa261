package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TriggerCommand is the hidden first argument that turns the bpflab binary
// into a trigger process: one process of a [Scenario], which makes the
// calls of its plan from its main thread and from other threads.
const TriggerCommand = "__bpflab_trigger"

func init() {
	if IsTrigger() {
		// Keep the main goroutine on the process's first thread, whose id
		// is the pid, so calls planned for thread 0 have tid == pid and
		// calls planned for other threads have tid != pid.
		runtime.LockOSThread()
	}
}

// IsTrigger reports whether this process was started as a trigger.
func IsTrigger() bool {
	return len(os.Args) > 1 && os.Args[1] == TriggerCommand
}

// TriggerMain runs a trigger process and exits. A command calls it first
// thing in main, after every package (and so every lab's operations) has
// been initialised, when [IsTrigger] is true.
func TriggerMain() {
	os.Exit(triggerMain())
}

// Result is what one operation returned to its caller.
type Result struct {
	// Ret is the system call's return value when it succeeded.
	Ret int64 `json:"ret,omitempty"`
	// Errno is 0 or the error the call failed with.
	Errno syscall.Errno `json:"errno,omitempty"`
	// Note is anything else the operation observed (for example "read-ok"
	// when a read after an open got its byte).
	Note string `json:"note,omitempty"`
}

// An opFunc decodes an operation's arguments and performs it.
type opFunc func(args json.RawMessage) (Result, error)

var (
	opsMu sync.Mutex
	ops   = map[string]opFunc{}
)

// RegisterOp makes an operation available to triggers under name. fn runs
// in the trigger process, on the thread the plan names, and returns what
// the call returned; an error means the operation could not be set up (a
// bug in the lab, not in the student's program) and ends the trigger.
//
// Labs register their operations in a package-level variable or an init
// function, so every binary that links the lab can run them:
//
//	var _ = harness.RegisterOp("openat", func(a OpenArgs) (harness.Result, error) { ... })
func RegisterOp[A any](name string, fn func(args A) (Result, error)) string {
	opsMu.Lock()
	defer opsMu.Unlock()
	if _, dup := ops[name]; dup {
		panic("harness: operation " + name + " registered twice")
	}
	ops[name] = func(raw json.RawMessage) (Result, error) {
		var a A
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &a); err != nil {
				return Result{}, fmt.Errorf("arguments of %s: %w", name, err)
			}
		}
		return fn(a)
	}
	return name
}

func lookupOp(name string) (opFunc, bool) {
	opsMu.Lock()
	defer opsMu.Unlock()
	fn, ok := ops[name]
	return fn, ok
}

// Ops lists the registered operations.
func Ops() []string {
	opsMu.Lock()
	defer opsMu.Unlock()
	var names []string
	for n := range ops {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// plan is what a trigger process reads from its standard input.
type plan struct {
	Comm    string     `json:"comm"`
	Threads int        `json:"threads"`
	Calls   []planCall `json:"calls"`
}

type planCall struct {
	Op     string          `json:"op"`
	Args   json.RawMessage `json:"args,omitempty"`
	Thread int             `json:"thread"`
	Async  bool            `json:"async,omitempty"`
}

// The trigger's reports, one JSON object a line on its standard output.
type readyLine struct {
	Tids []int `json:"tids"`
}

type doneLine struct {
	I   int `json:"i"`
	Tid int `json:"tid"`
	Result
}

// SetThreadName names the calling thread (PR_SET_NAME): what
// bpf_get_current_comm reports for calls made on it. At most 15 bytes.
func SetThreadName(name string) error {
	b := append([]byte(name), 0)
	return unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0)
}

// CPath returns a NUL-terminated copy of p for a system call. Writing the
// copy faults its page in, so the page is present when a BPF program at
// the call's entry reads it: such a program cannot fault pages in, and
// would read an empty string from a page that is not there yet.
func CPath(p string) *byte {
	b := make([]byte, len(p)+1)
	copy(b, p)
	return &b[0]
}

// writeLine writes one report line with a single write(2), so a line is
// never torn when the process is killed.
func writeLine(v any) {
	b, _ := json.Marshal(v)
	b = append(b, '\n')
	_, _ = unix.Write(1, b)
}

func triggerMain() int {
	in := bufio.NewReader(os.Stdin)
	line, err := in.ReadBytes('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, "trigger: reading the plan:", err)
		return 2
	}
	var p plan
	if err := json.Unmarshal(line, &p); err != nil {
		fmt.Fprintln(os.Stderr, "trigger: decoding the plan:", err)
		return 2
	}
	fns := make([]opFunc, len(p.Calls))
	for i, c := range p.Calls {
		fn, ok := lookupOp(c.Op)
		if !ok {
			fmt.Fprintf(os.Stderr, "trigger: unknown operation %q (registered: %v)\n", c.Op, Ops())
			return 2
		}
		if c.Thread < 0 || c.Thread > p.Threads {
			fmt.Fprintf(os.Stderr, "trigger: call %d on thread %d of %d\n", i, c.Thread, p.Threads)
			return 2
		}
		fns[i] = fn
	}
	if err := SetThreadName(p.Comm); err != nil {
		fmt.Fprintln(os.Stderr, "trigger: naming the main thread:", err)
		return 2
	}

	// Thread 0 is this one (tid == pid). Threads 1..N are goroutines locked
	// to OS threads of their own, named like the process, which run the
	// calls handed to them one at a time.
	type job struct {
		i  int
		fn opFunc
		c  planCall
	}
	type done struct {
		i   int
		res Result
		err error
		tid int
	}
	tids := []int{unix.Gettid()}
	work := make([]chan job, p.Threads+1)
	results := make(chan done, len(p.Calls))
	tidc := make(chan int)
	for t := 1; t <= p.Threads; t++ {
		work[t] = make(chan job, len(p.Calls))
		go func(jobs chan job) {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			if err := SetThreadName(p.Comm); err != nil {
				tidc <- -1
				return
			}
			tid := unix.Gettid()
			tidc <- tid
			for j := range jobs {
				res, err := j.fn(j.c.Args)
				results <- done{j.i, res, err, tid}
			}
		}(work[t])
		tid := <-tidc
		if tid < 0 {
			fmt.Fprintln(os.Stderr, "trigger: naming a thread failed")
			return 2
		}
		tids = append(tids, tid)
	}
	writeLine(readyLine{Tids: tids})

	// Wait for the go byte, so processes started together call together.
	if _, err := in.ReadByte(); err != nil {
		fmt.Fprintln(os.Stderr, "trigger: waiting for go:", err)
		return 2
	}
	// Calls run in batches: a batch ends at the first call that is not
	// async. The calls of a batch on other threads start at once, those on
	// the main thread run here meanwhile, and the batch ends when all have
	// returned.
	for start := 0; start < len(p.Calls); {
		end := start
		for end < len(p.Calls)-1 && p.Calls[end].Async {
			end++
		}
		batch := p.Calls[start : end+1]
		pending := 0
		for k, c := range batch {
			if c.Thread != 0 {
				work[c.Thread] <- job{start + k, fns[start+k], c}
				pending++
			}
		}
		report := func(i int, d done) bool {
			if d.err != nil {
				fmt.Fprintf(os.Stderr, "trigger: call %d (%s): %v\n", i, p.Calls[i].Op, d.err)
				return false
			}
			writeLine(doneLine{I: i, Tid: d.tid, Result: d.res})
			return true
		}
		for k, c := range batch {
			if c.Thread == 0 {
				res, err := fns[start+k](c.Args)
				if !report(start+k, done{res: res, err: err, tid: tids[0]}) {
					return 2
				}
			}
		}
		for ; pending > 0; pending-- {
			d := <-results
			if !report(d.i, d) {
				return 2
			}
		}
		start = end + 1
	}
	return 0
}
