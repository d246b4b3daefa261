package kube

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
)

// The checks of the student's Go code, in the order they run.
const (
	CheckParse      = "parse"
	CheckAtStart    = "pods-at-start"
	CheckAfterStart = "pods-after-start"
	CheckRecreated  = "pod-recreated"
	CheckOutside    = "outside-pods"
)

// Checks says what each check's PASS means.
var Checks = []struct{ Name, What string }{
	{CheckParse, "Parse gives the pod, container and QoS class of cgroup paths of both drivers, every QoS class and runtime, and nothing for paths outside pods"},
	{CheckAtStart, "Lookup finds the workload of every cgroup id of pods that ran before the program started"},
	{CheckAfterStart, "Lookup finds the workload of pods created after the program started and answered"},
	{CheckRecreated, "Lookup finds a pod deleted and created again (same path, new ids)"},
	{CheckOutside, "Lookup answers 'outside any pod' for cgroups outside pods, names like pods' included"},
}

// Result is one check's outcome: how many cases it had and the words of
// each case that went wrong.
type Result struct {
	Check string
	Cases int
	Fails []string
	// Starter is how many cases the starter's code answered: a zero
	// Workload from Parse, ErrNotWritten from Lookup.
	Starter int
}

// ErrNotWritten is the starter's answer: the code is not written yet.
var ErrNotWritten = errors.New("not written yet")

// Hint says what to look at for a failed check.
func Hint(check string) string {
	switch check {
	case CheckParse:
		return "see README.md, 'Reading a cgroup path': find the kubepods element anywhere in the path, the pod after it (systemd writes its UID with _), then the container (a runtime prefix, or bare 64 hex digits with cgroupfs)"
	case CheckAtStart:
		return "walk the cgroup tree under the root: each directory's inode number is its cgroup id; Parse the path of the one whose number is asked"
	case CheckAfterStart:
		return "pods start after your program does: when an id is not in your cache, walk the tree again before saying it is unknown"
	case CheckRecreated:
		return "a pod deleted and created again has the same path but new ids: when you walk again, take every directory's id again, not only new paths'"
	case CheckOutside:
		return "only cgroups under kubepods belong to pods: a docker-<id>.scope or a QoS slice by itself is in no pod"
	}
	return ""
}

// Run is the checks' run on a node: the results, and the cgroups the
// node still has, whose processes the grader then watches.
type Run struct {
	Results []Result
	Live    []*Cgroup
}

// Exercise runs the checks on node n: it makes four pods and cgroups
// outside pods, starts the student's code (start), asks Parse about
// [ParseCases] and Lookup about every cgroup, then makes three pods more
// and asks about them, then deletes one of the first pods, makes it again
// with the same UID and asks about it again. Cgroups are asked about in
// random order. An error is the node's, not the student's.
func Exercise(n *Node, start func() (API, error)) (*Run, error) {
	r := n.R
	var first []*Pod
	for _, s := range []PodSpec{
		{Driver: Systemd, QoS: Burstable, Runtime: Containerd, Containers: 2},
		{Driver: Systemd, QoS: Guaranteed, Runtime: Containerd, Containers: 1},
		{Driver: Cgroupfs, QoS: Burstable, Runtime: Containerd, Containers: 2},
		{Driver: Systemd, QoS: BestEffort, Runtime: CRIO, Containers: 1},
	} {
		p, err := n.AddPod(s, "")
		if err != nil {
			return nil, err
		}
		first = append(first, p)
	}
	outside, err := n.Outside()
	if err != nil {
		return nil, err
	}
	run := &Run{}
	api, err := start()
	if err != nil {
		for _, c := range Checks {
			run.Results = append(run.Results, Result{Check: c.Name, Cases: 1, Fails: []string{err.Error()}})
		}
		return run, nil
	}
	ask := func(check string, cgs []*Cgroup, how func(*Cgroup) (Workload, error)) {
		res := Result{Check: check, Cases: len(cgs)}
		order := append([]*Cgroup(nil), cgs...)
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, c := range order {
			got, err := how(c)
			if errors.Is(err, ErrNotWritten) || check == CheckParse && err == nil && got == (Workload{}) {
				res.Starter++
			}
			switch {
			case err != nil:
				res.Fails = append(res.Fails, fmt.Sprintf("%s (%s): your code answered an error: %v; want %s", describe(check, c), c.What, err, c.Want))
			case got != c.Want:
				res.Fails = append(res.Fails, fmt.Sprintf("%s (%s): got %s; want %s", describe(check, c), c.What, got, c.Want))
			}
		}
		run.Results = append(run.Results, res)
	}
	parse := func(c *Cgroup) (Workload, error) { return api.Parse(c.Path) }
	lookup := func(c *Cgroup) (Workload, error) { return api.Lookup(c.ID) }
	ask(CheckParse, ParseCases(rand.New(rand.NewPCG(r.Uint64(), r.Uint64()))), parse)
	var atStart []*Cgroup
	for _, p := range first {
		atStart = append(atStart, p.Cgroups...)
	}
	ask(CheckAtStart, atStart, lookup)

	var later []*Pod
	for _, s := range []PodSpec{
		{Driver: Cgroupfs, QoS: Guaranteed, Runtime: Containerd, Containers: 1},
		{Driver: Cgroupfs, QoS: BestEffort, Runtime: CRIO, Containers: 1},
		{Driver: Systemd, QoS: Burstable, Runtime: Docker, Containers: 1},
	} {
		p, err := n.AddPod(s, "")
		if err != nil {
			return nil, err
		}
		later = append(later, p)
	}
	var afterStart []*Cgroup
	for _, p := range later {
		afterStart = append(afterStart, p.Cgroups...)
	}
	ask(CheckAfterStart, afterStart, lookup)

	// The first pod goes, and comes back with the same UID (a static
	// pod's is its manifest's hash) and new containers.
	if err := n.RemovePod(first[0]); err != nil {
		return nil, fmt.Errorf("removing a pod: %w", err)
	}
	again, err := n.AddPod(first[0].PodSpec, first[0].UID)
	if err != nil {
		return nil, err
	}
	ask(CheckRecreated, again.Cgroups, lookup)
	ask(CheckOutside, outside, lookup)

	for _, p := range append(append(first[1:], later...), again) {
		run.Live = append(run.Live, p.Cgroups...)
	}
	run.Live = append(run.Live, outside...)
	return run, nil
}

func describe(check string, c *Cgroup) string {
	if check == CheckParse {
		return fmt.Sprintf("Parse(%q)", c.Path)
	}
	return fmt.Sprintf("Lookup(%d), the id of %s", c.ID, Short(c.Path))
}

var hex64 = regexp.MustCompile(`[0-9a-f]{64}`)

// Short is a cgroup path with each container id cut to its first 12
// digits, as container tools show them.
func Short(path string) string {
	return hex64.ReplaceAllStringFunc(path, func(id string) string { return id[:12] + "…" })
}

// T is what [Report] needs of a *testing.T.
type T interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
}

// Test runs the checks on a tree of plain directories in dir, with the
// student's code called in this process, for a new random seed, and
// reports the results ([Report]): the student's go test.
func Test(t T, dir string, parse func(string) Workload, newResolver func(string) Resolver) {
	t.Helper()
	seed := rand.Uint64()
	results, err := CheckLocal(dir, seed, parse, newResolver)
	if err != nil {
		t.Fatalf("laying out the tree: %v", err)
	}
	t.Logf("seed %d", seed)
	Report(t, results)
}

// Report reports results as a go test does, for the student's test of
// their code: a check that failed is an error with its first cases and
// its hint.
func Report(t T, results []Result) {
	t.Helper()
	starter := true
	for _, r := range results {
		starter = starter && r.Starter == r.Cases
	}
	if starter {
		t.Skip("Parse and Lookup are the starter's: write them (see README.md), then run this test again")
		return
	}
	for _, r := range results {
		if len(r.Fails) == 0 {
			t.Logf("PASS %s: %d case(s)", r.Check, r.Cases)
			continue
		}
		msg := fmt.Sprintf("FAIL %s: %d of %d case(s) wrong", r.Check, len(r.Fails), r.Cases)
		for i, f := range r.Fails {
			if i == 5 {
				msg += fmt.Sprintf("\n  ... and %d more", len(r.Fails)-5)
				break
			}
			msg += "\n  " + f
		}
		t.Errorf("%s\n  hint: %s", msg, Hint(r.Check))
	}
}

// CheckLocal runs the checks on a node of plain directories in dir,
// with the student's code called in this process.
func CheckLocal(dir string, seed uint64, parse func(string) Workload, newResolver func(string) Resolver) ([]Result, error) {
	root := filepath.Join(dir, "cgroup")
	n := NewNode(root, rand.New(rand.NewPCG(seed, seed^0x1a7)))
	n.Graveyard = filepath.Join(dir, "deleted")
	for _, d := range []string{root, n.Graveyard} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	defer os.RemoveAll(n.Graveyard)
	defer n.Close()
	run, err := Exercise(n, func() (API, error) {
		return Local{ParseFunc: parse, Resolver: newResolver(root)}, nil
	})
	if err != nil {
		return nil, err
	}
	return run.Results, nil
}
