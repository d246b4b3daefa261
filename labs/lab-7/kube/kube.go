// Package kube is the Kubernetes side of lab 7: the cgroup trees a node's
// kubelet makes for its pods ([Node]), the program the student writes in
// Go to tell which pod a cgroup id belongs to ([Main], [Resolver]), and
// the checks of that program ([Exercise]), which run the same against a
// tree of plain directories on the host (go test) and against the guest's
// cgroup v2 hierarchy (bpflab grade lab-7).
package kube

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// The quality-of-service classes of a pod, as Workload.QoS spells them.
const (
	Guaranteed = "guaranteed"
	Burstable  = "burstable"
	BestEffort = "besteffort"
)

// Workload is what a cgroup belongs to: a container of a pod, a pod (a
// process in the pod's cgroup but in no container of it), or nothing
// (the zero Workload: a process outside every pod).
type Workload struct {
	// Pod is the pod's UID, as the API server shows it (dashes, not
	// underscores).
	Pod string `json:"pod,omitempty"`
	// Container is the container's id: 64 hex digits.
	Container string `json:"container,omitempty"`
	// QoS is the pod's quality-of-service class: Guaranteed, Burstable
	// or BestEffort.
	QoS string `json:"qos,omitempty"`
}

func (w Workload) String() string {
	if w == (Workload{}) {
		return "outside any pod"
	}
	var parts []string
	for _, f := range []struct{ k, v string }{{"pod", w.Pod}, {"container", w.Container}, {"qos", w.QoS}} {
		if f.v != "" {
			parts = append(parts, f.k+" "+f.v)
		}
	}
	return strings.Join(parts, ", ")
}

// Resolver tells which workload a cgroup id belongs to.
type Resolver interface {
	// Lookup returns the workload of the cgroup whose id is id, the
	// zero Workload for a cgroup outside every pod, and an error for an
	// id that is no cgroup's.
	Lookup(id uint64) (Workload, error)
}

// Main is the main function of the lab's Go program: it answers the
// grader's questions on standard input (one per line: "parse PATH" or
// "lookup ID") with parse and with the resolver newResolver makes for the
// cgroup v2 root (-root), one JSON line each on standard output.
func Main(parse func(path string) Workload, newResolver func(root string) Resolver) {
	root := flag.String("root", "/sys/fs/cgroup", "where cgroup v2 is mounted")
	flag.Parse()
	if err := serve(os.Stdin, os.Stdout, parse, newResolver(*root)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// answer is one line of the program's answers.
type answer struct {
	Workload Workload `json:"workload"`
	Error    string   `json:"error,omitempty"`
}

func serve(in io.Reader, out io.Writer, parse func(string) Workload, r Resolver) error {
	local := Local{ParseFunc: parse, Resolver: r}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	w := bufio.NewWriter(out)
	for sc.Scan() {
		verb, arg, _ := strings.Cut(sc.Text(), " ")
		var a answer
		var err error
		switch verb {
		case "parse":
			a.Workload, err = local.Parse(arg)
		case "lookup":
			var id uint64
			if id, err = strconv.ParseUint(arg, 10, 64); err == nil {
				a.Workload, err = local.Lookup(id)
			}
		default:
			err = fmt.Errorf("unknown question %q", verb)
		}
		if err != nil {
			a.Error = err.Error()
		}
		b, _ := json.Marshal(a)
		w.Write(append(b, '\n'))
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return sc.Err()
}

// API is the student's code as the checks see it: in this process
// ([Local]) or in the program the grader runs ([Client]).
type API interface {
	Parse(path string) (Workload, error)
	Lookup(id uint64) (Workload, error)
}

// Local is the student's code called in this process. A panic is an
// error of the call that made it.
type Local struct {
	ParseFunc func(string) Workload
	Resolver  Resolver
}

func (l Local) Parse(path string) (w Workload, err error) {
	defer catch(&err)
	return l.ParseFunc(path), nil
}

func (l Local) Lookup(id uint64) (w Workload, err error) {
	defer catch(&err)
	return l.Resolver.Lookup(id)
}

func catch(err *error) {
	if v := recover(); v != nil {
		*err = fmt.Errorf("panic: %v", v)
	}
}
