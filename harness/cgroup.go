package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupRoot is where the guest mounts cgroup2.
const cgroupRoot = "/sys/fs/cgroup"

// WorkerMemoryShare is the part of the guest's memory one submission's
// worker and its trigger processes may use together (memory.max of their
// cgroup). A program whose verifier log or maps outgrow it ends that
// submission's grading, not the guest.
const WorkerMemoryShare = 0.7

// workerCgroup is a cgroup v2 of its own for one worker, with a memory
// limit.
type workerCgroup struct {
	dir   string
	fd    *os.File
	limit int64
}

// newWorkerCgroup makes a memory-limited cgroup, in a guest only: on a
// host (--kernel host) the machine's cgroups are left alone. It returns
// nil when cgroups cannot be used.
func newWorkerCgroup() *workerCgroup {
	if os.Getenv("BPFLAB_GUEST") != "1" {
		return nil
	}
	ctrl, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers"))
	if err != nil || !bytes.Contains(ctrl, []byte("memory")) {
		return nil
	}
	_ = os.WriteFile(filepath.Join(cgroupRoot, "cgroup.subtree_control"), []byte("+memory"), 0)
	total := memTotal()
	if total <= 0 {
		return nil
	}
	cg := &workerCgroup{limit: int64(float64(total) * WorkerMemoryShare)}
	// A name like any other on a machine, not one a program under test
	// could tell the grader's processes by.
	for try := 0; cg.dir == "" && try < 8; try++ {
		dir := filepath.Join(cgroupRoot, fmt.Sprintf("session-%d.scope", 1+rand.IntN(1<<20)))
		if err := os.Mkdir(dir, 0o755); err == nil {
			cg.dir = dir
		}
	}
	if cg.dir == "" {
		return nil
	}
	if os.WriteFile(filepath.Join(cg.dir, "memory.max"), []byte(strconv.FormatInt(cg.limit, 10)), 0) != nil {
		cg.remove()
		return nil
	}
	_ = os.WriteFile(filepath.Join(cg.dir, "memory.swap.max"), []byte("0"), 0)
	fd, err := os.Open(cg.dir)
	if err != nil {
		cg.remove()
		return nil
	}
	cg.fd = fd
	return cg
}

// ooms is how many processes of the cgroup the kernel killed for memory.
func (cg *workerCgroup) ooms() int {
	b, err := os.ReadFile(filepath.Join(cg.dir, "memory.events"))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "oom_kill" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// remove kills what is left in the cgroup and removes it.
func (cg *workerCgroup) remove() {
	if cg.fd != nil {
		cg.fd.Close()
	}
	_ = os.WriteFile(filepath.Join(cg.dir, "cgroup.kill"), []byte("1"), 0)
	for i := 0; i < 100; i++ {
		if os.Remove(cg.dir) == nil || os.IsNotExist(os.Remove(cg.dir)) {
			return
		}
	}
}

// memTotal is the machine's memory in bytes, from /proc/meminfo.
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
