package kube

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// The cgroup drivers of the kubelet.
const (
	// Systemd is the systemd driver: slices and scopes,
	// kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<UID with _>.slice/cri-containerd-<id>.scope.
	Systemd = "systemd"
	// Cgroupfs is the cgroupfs driver: kubepods/burstable/pod<UID>/<id>.
	Cgroupfs = "cgroupfs"
)

// The container runtimes, which name container cgroups each their way.
const (
	Containerd = "containerd"
	CRIO       = "cri-o"
	Docker     = "docker"
)

// PodSpec is the kind of pod a node runs.
type PodSpec struct {
	Driver, QoS, Runtime string
	// Containers is how many containers the pod has.
	Containers int
}

func (s PodSpec) String() string {
	return fmt.Sprintf("%s pod (%s driver, %s)", s.QoS, s.Driver, s.Runtime)
}

// Cgroup is a cgroup of a node and what it belongs to.
type Cgroup struct {
	// Path is the cgroup's path as /proc/PID/cgroup shows it: from the
	// cgroup v2 root, with a leading slash.
	Path string
	// Dir is its directory; ID its id (the directory's inode number, as
	// bpf_get_current_cgroup_id returns it).
	Dir string
	ID  uint64
	// Want is the workload it belongs to; What says in words what it is.
	Want Workload
	What string
}

// Pod is a pod of a node.
type Pod struct {
	PodSpec
	UID string
	// Cgroups are its containers' cgroups (and cri-o's conmon, which is
	// in the pod and in no container).
	Cgroups []*Cgroup
	dir     string
}

// Node lays out cgroups as a Kubernetes node does, under Root (the cgroup
// v2 root, or any directory in tests).
type Node struct {
	Root string
	R    *rand.Rand
	// Graveyard, when set, is a directory outside Root where deleted
	// pods go instead of being removed, for a tree of plain directories:
	// a file system reuses a removed directory's inode number, where
	// cgroup v2 never reuses an id.
	Graveyard string
	made      []string
}

// NewNode makes a node under root with the random source r.
func NewNode(root string, r *rand.Rand) *Node { return &Node{Root: root, R: r} }

// UID is a new pod UID.
func UID(r *rand.Rand) string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// ContainerID is a new container id.
func ContainerID(r *rand.Rand) string {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return fmt.Sprintf("%x", b)
}

// PodPath is the path of a pod's cgroup.
func PodPath(s PodSpec, uid string) string {
	q := s.QoS
	if s.Driver == Cgroupfs {
		if q == Guaranteed {
			return "/kubepods/pod" + uid
		}
		return "/kubepods/" + q + "/pod" + uid
	}
	u := strings.ReplaceAll(uid, "-", "_")
	if q == Guaranteed {
		return "/kubepods.slice/kubepods-pod" + u + ".slice"
	}
	return "/kubepods.slice/kubepods-" + q + ".slice/kubepods-" + q + "-pod" + u + ".slice"
}

// ContainerName is the name of a container's cgroup in its pod's.
func ContainerName(s PodSpec, id string) string {
	name := map[string]string{Containerd: "cri-containerd-", CRIO: "crio-", Docker: "docker-"}[s.Runtime] + id
	if s.Driver == Cgroupfs {
		if s.Runtime == CRIO {
			return name
		}
		return id
	}
	return name + ".scope"
}

// ConmonName is the name of the cgroup of cri-o's monitor of a container,
// beside the container's.
func ConmonName(s PodSpec, id string) string {
	if s.Driver == Cgroupfs {
		return "crio-conmon-" + id
	}
	return "crio-conmon-" + id + ".scope"
}

// podCgroups are the cgroups of a pod, without directories: its
// containers' and, with cri-o, their conmons'.
func podCgroups(s PodSpec, uid string, r *rand.Rand) []*Cgroup {
	base := PodPath(s, uid)
	var out []*Cgroup
	for i := 0; i < s.Containers; i++ {
		id := ContainerID(r)
		out = append(out, &Cgroup{Path: base + "/" + ContainerName(s, id),
			Want: Workload{Pod: uid, Container: id, QoS: s.QoS},
			What: fmt.Sprintf("a container of a %s", s)})
		if s.Runtime == CRIO {
			out = append(out, &Cgroup{Path: base + "/" + ConmonName(s, id),
				Want: Workload{Pod: uid, QoS: s.QoS},
				What: fmt.Sprintf("cri-o's conmon of a container of a %s: in the pod, in no container", s)})
		}
	}
	return out
}

// AddPod makes the cgroups of a new pod with UID uid ("" for a new one).
func (n *Node) AddPod(s PodSpec, uid string) (*Pod, error) {
	if uid == "" {
		uid = UID(n.R)
	}
	p := &Pod{PodSpec: s, UID: uid, Cgroups: podCgroups(s, uid, n.R), dir: n.dir(PodPath(s, uid))}
	for _, c := range p.Cgroups {
		if err := n.make(c); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// RemovePod removes a pod's cgroups, as the kubelet does once its
// processes are gone.
func (n *Node) RemovePod(p *Pod) error {
	if n.Graveyard != "" {
		return os.Rename(p.dir, filepath.Join(n.Graveyard, p.UID+"-"+ContainerID(n.R)[:8]))
	}
	for _, c := range p.Cgroups {
		if err := os.Remove(c.Dir); err != nil {
			return err
		}
	}
	return os.Remove(p.dir)
}

// Outside makes cgroups of the node that are in no pod, some with names
// close to pods' ones.
func (n *Node) Outside() ([]*Cgroup, error) {
	paths := []string{
		"/system.slice/kubelet.service",
		"/system.slice/containerd.service",
		"/system.slice/docker-" + ContainerID(n.R) + ".scope",
		"/kubepods.slice/kubepods-besteffort.slice",
		"/kubepods/burstable",
	}
	var out []*Cgroup
	for _, p := range paths {
		c := &Cgroup{Path: p, What: "a cgroup outside kubepods' pods"}
		if err := n.make(c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Existing returns the cgroup at path (from the root), which exists,
// as outside any pod.
func (n *Node) Existing(p string) (*Cgroup, error) {
	c := &Cgroup{Path: p, Dir: n.dir(p), What: "a cgroup outside kubepods"}
	id, err := inode(c.Dir)
	c.ID = id
	return c, err
}

func (n *Node) dir(p string) string {
	return filepath.Join(n.Root, filepath.FromSlash(strings.TrimPrefix(p, "/")))
}

// make makes the directory of c, and those above it, and reads its id.
func (n *Node) make(c *Cgroup) error {
	c.Dir = n.dir(c.Path)
	var missing []string
	for d := c.Dir; d != n.Root && len(d) > len(n.Root); d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	slices.Reverse(missing)
	for _, d := range missing {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("making cgroup %s: %w", d, err)
		}
		n.made = append(n.made, d)
	}
	id, err := inode(c.Dir)
	c.ID = id
	return err
}

func inode(dir string) (uint64, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, err
	}
	return fi.Sys().(*syscall.Stat_t).Ino, nil
}

// Close removes every directory the node made that is still there,
// deepest first (rmdir only: a cgroup's files go with it).
func (n *Node) Close() {
	slices.SortFunc(n.made, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, d := range n.made {
		_ = os.Remove(d)
	}
	n.made = nil
}

// ParseCases are cgroup paths of every kind, and the workload of each:
// both drivers, every QoS class and runtime, cri-o's conmon, a pod's own
// cgroup, a node nested in a container (a kind cluster), and cgroups
// outside pods with names like theirs.
func ParseCases(r *rand.Rand) []*Cgroup {
	var out []*Cgroup
	for _, d := range []string{Systemd, Cgroupfs} {
		for _, q := range []string{Guaranteed, Burstable, BestEffort} {
			for _, rt := range []string{Containerd, CRIO, Docker} {
				s := PodSpec{Driver: d, QoS: q, Runtime: rt, Containers: 1}
				out = append(out, podCgroups(s, UID(r), r)...)
			}
			uid := UID(r)
			s := PodSpec{Driver: d, QoS: q, Runtime: Containerd}
			out = append(out, &Cgroup{Path: PodPath(s, uid), Want: Workload{Pod: uid, QoS: q},
				What: fmt.Sprintf("the cgroup of a %s itself", s)})
		}
	}
	node := "/system.slice/docker-" + ContainerID(r) + ".scope"
	for _, d := range []string{Systemd, Cgroupfs} {
		s := PodSpec{Driver: d, QoS: Burstable, Runtime: Containerd, Containers: 1}
		for _, c := range podCgroups(s, UID(r), r) {
			c.Path = node + c.Path
			c.What += ", on a node that runs in a container (kind)"
			out = append(out, c)
		}
	}
	for _, p := range []string{
		"/",
		"/init.scope",
		"/system.slice/kubelet.service",
		"/system.slice/docker-" + ContainerID(r) + ".scope",
		"/system.slice/cri-containerd-" + ContainerID(r) + ".scope",
		"/machine.slice/libpod-" + ContainerID(r) + ".scope",
		"/user.slice/user-1000.slice/session-3.scope",
		"/kubepods.slice",
		"/kubepods.slice/kubepods-burstable.slice",
		"/kubepods.slice/kubepods-besteffort.slice",
		"/kubepods",
		"/kubepods/burstable",
		"/kubepods/besteffort",
		node,
	} {
		out = append(out, &Cgroup{Path: p, What: "a cgroup in no pod"})
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
