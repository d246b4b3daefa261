// Package wrong is lab 7's Go code with one mistake at a time, as
// students make them, for the tests that prove the checks catch each.
package wrong

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/bpflab/bpflab/labs/lab-7/kube"
)

// The mistakes, each of which some check must catch.
const (
	// None is no mistake: the code is right.
	None = ""
	// Underscores keeps the systemd driver's underscores in pod UIDs.
	Underscores = "underscores"
	// SystemdOnly reads only the systemd driver's paths.
	SystemdOnly = "systemd-only"
	// NoQoSGuaranteed leaves the QoS class empty for guaranteed pods.
	NoQoSGuaranteed = "no-qos-guaranteed"
	// ConmonContainer takes cri-o's conmon for the container.
	ConmonContainer = "conmon-container"
	// AnyContainer reports containers outside kubepods too.
	AnyContainer = "any-container"
	// NoRefresh walks the tree once, when the program starts.
	NoRefresh = "no-refresh"
	// KnownPods walks the tree again but skips the pods it has seen, so
	// a pod made again (same UID, same path) keeps its old containers.
	KnownPods = "known-pods"
)

// Mistakes are all the mistakes but None.
var Mistakes = []string{Underscores, SystemdOnly, NoQoSGuaranteed, ConmonContainer, AnyContainer, NoRefresh, KnownPods}

// Parser is Parse with mistake m.
func Parser(m string) func(string) kube.Workload {
	return func(path string) kube.Workload { return parse(m, path) }
}

func idOf(name string) string {
	for _, pre := range []string{"cri-containerd-", "crio-", "docker-"} {
		name = strings.TrimPrefix(name, pre)
	}
	if len(name) != 64 || strings.Trim(name, "0123456789abcdef") != "" {
		return ""
	}
	return name
}

func parse(m, path string) kube.Workload {
	elems := strings.Split(path, "/")
	var w kube.Workload
	in := false
	for i, e := range elems {
		e = strings.TrimSuffix(e, ".scope")
		switch {
		case e == "kubepods.slice" || e == "kubepods" && m != SystemdOnly:
			in = true
		case !in:
			if m == AnyContainer && idOf(e) != "" {
				w.Container = idOf(e)
			}
		case e == "burstable" || e == "besteffort":
			w.QoS = e
		case strings.HasPrefix(e, "kubepods-") && strings.HasSuffix(e, ".slice") && !strings.Contains(e, "-pod"):
			w.QoS = strings.TrimSuffix(strings.TrimPrefix(e, "kubepods-"), ".slice")
		case strings.Contains(e, "-pod") && strings.HasSuffix(e, ".slice"):
			uid := strings.TrimSuffix(e[strings.Index(e, "-pod")+4:], ".slice")
			if m != Underscores {
				uid = strings.ReplaceAll(uid, "_", "-")
			}
			w.Pod = uid
		case strings.HasPrefix(e, "pod") && i > 0:
			w.Pod = strings.TrimPrefix(e, "pod")
		case strings.HasPrefix(e, "crio-conmon-"):
			if m == ConmonContainer {
				w.Container = strings.TrimPrefix(e, "crio-conmon-")
			}
		case w.Pod != "":
			w.Container = idOf(e)
		}
	}
	if w.Pod == "" {
		if m == AnyContainer && !in {
			return kube.Workload{Container: w.Container}
		}
		return kube.Workload{}
	}
	if w.QoS == "" && m != NoQoSGuaranteed {
		w.QoS = kube.Guaranteed
	}
	return w
}

// Resolver is a Resolver with a mistake.
type Resolver struct {
	m     string
	root  string
	ids   map[uint64]string
	seen  map[string]bool
	ready bool
}

// NewResolver makes a Resolver with mistake m.
func NewResolver(m string) func(string) kube.Resolver {
	return func(root string) kube.Resolver {
		r := &Resolver{m: m, root: root, ids: map[uint64]string{}, seen: map[string]bool{}}
		if m == NoRefresh {
			r.scan()
		}
		return r
	}
}

func (r *Resolver) scan() {
	var walk func(dir, rel string)
	walk = func(dir, rel string) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			p := rel + "/" + e.Name()
			if r.m == KnownPods && r.seen[p] && (strings.HasPrefix(e.Name(), "pod") || strings.Contains(e.Name(), "-pod")) {
				continue
			}
			r.seen[p] = true
			var st syscall.Stat_t
			if syscall.Stat(filepath.Join(dir, e.Name()), &st) == nil {
				r.ids[st.Ino] = p
			}
			walk(filepath.Join(dir, e.Name()), p)
		}
	}
	var st syscall.Stat_t
	if syscall.Stat(r.root, &st) == nil {
		r.ids[st.Ino] = "/" // the root cgroup: outside any pod
	}
	walk(r.root, "")
}

func (r *Resolver) Lookup(id uint64) (kube.Workload, error) {
	p, ok := r.ids[id]
	if !ok && r.m != NoRefresh {
		r.scan()
		p, ok = r.ids[id]
	}
	if !ok {
		return kube.Workload{}, errors.New("unknown cgroup id")
	}
	return parse(r.m, p), nil
}
