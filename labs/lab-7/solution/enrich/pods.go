// Lab 7 reference solution: which pod a cgroup id belongs to.
package main

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"github.com/bpflab/bpflab/labs/lab-7/kube"
)

var (
	hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// The systemd driver: kubepods[-QOS]-pod<UID with _>.slice.
	systemdPod = regexp.MustCompile(`^kubepods(?:-(burstable|besteffort))?-pod([0-9a-f_]+)\.slice$`)
	// The cgroupfs driver: pod<UID>.
	cgroupfsPod = regexp.MustCompile(`^pod([0-9a-f-]+)$`)
	// The systemd driver's QoS slice.
	qosSlice = regexp.MustCompile(`^kubepods-(burstable|besteffort)\.slice$`)
)

// Parse returns the workload of the cgroup at path, as /proc/PID/cgroup
// shows it.
func Parse(path string) kube.Workload {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	// The node's cgroups start at kubepods, wherever it is (a node in a
	// container nests it).
	top := -1
	for i, p := range parts {
		if p == "kubepods.slice" || p == "kubepods" {
			top = i
			break
		}
	}
	if top < 0 {
		return kube.Workload{}
	}
	rest := parts[top+1:]
	// An optional QoS level, then the pod.
	qos := kube.Guaranteed
	if len(rest) > 0 && (rest[0] == "burstable" || rest[0] == "besteffort") {
		qos, rest = rest[0], rest[1:]
	} else if len(rest) > 0 {
		if m := qosSlice.FindStringSubmatch(rest[0]); m != nil {
			qos, rest = m[1], rest[1:]
		}
	}
	if len(rest) == 0 {
		return kube.Workload{}
	}
	var w kube.Workload
	if m := systemdPod.FindStringSubmatch(rest[0]); m != nil {
		if m[1] != "" && m[1] != qos || m[1] == "" && qos != kube.Guaranteed {
			return kube.Workload{}
		}
		w = kube.Workload{Pod: strings.ReplaceAll(m[2], "_", "-"), QoS: qos}
	} else if m := cgroupfsPod.FindStringSubmatch(rest[0]); m != nil {
		w = kube.Workload{Pod: m[1], QoS: qos}
	} else {
		return kube.Workload{}
	}
	if len(rest) > 1 {
		w.Container = container(rest[1])
	}
	return w
}

// container is the container id in the name of a container's cgroup, or
// "" for a cgroup of the pod that is no container's (cri-o's conmon).
func container(name string) string {
	name = strings.TrimSuffix(name, ".scope")
	if strings.HasPrefix(name, "crio-conmon-") {
		return ""
	}
	for _, prefix := range []string{"cri-containerd-", "crio-", "docker-", ""} {
		if id, ok := strings.CutPrefix(name, prefix); ok && hex64.MatchString(id) {
			return id
		}
	}
	return ""
}

// Resolver maps cgroup ids to paths, walking the tree again when an id is
// not known: pods come and go while the program runs.
type Resolver struct {
	root  string
	mu    sync.Mutex
	paths map[uint64]string
}

func NewResolver(root string) *Resolver {
	return &Resolver{root: root, paths: map[uint64]string{}}
}

func (r *Resolver) Lookup(id uint64) (kube.Workload, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.paths[id]
	if !ok {
		if err := r.walk(); err != nil {
			return kube.Workload{}, err
		}
		if p, ok = r.paths[id]; !ok {
			return kube.Workload{}, fmt.Errorf("no cgroup has id %d", id)
		}
	}
	return Parse(p), nil
}

// walk maps every cgroup's id to its path afresh: a cgroup made again
// has a new id.
func (r *Resolver) walk() error {
	paths := map[uint64]string{}
	err := filepath.WalkDir(r.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// A cgroup removed while we walk.
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(r.root, p)
		paths[info.Sys().(*syscall.Stat_t).Ino] = "/" + strings.TrimPrefix(filepath.ToSlash(rel), ".")
		return nil
	})
	if err != nil {
		return err
	}
	r.paths = paths
	return nil
}
