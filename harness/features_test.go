package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

func TestKernelOlder(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"5.10.0-35-cloud-amd64", "5.10", false},
		{"5.4.0", "5.10", true},
		{"6.1.176-1", "5.10", false},
		{"6.12.117+deb13-cloud-amd64", "6.12", false},
		{"6.11", "6.12", true},
		{"7.0~rc3", "6.18", false},
		{"", "5.10", true},
		{"5.10.223-1", "5.15", true},
		{"7.3.4-1~bpo13+1", "6.18", false},
		{"6.12.117+deb13", "6.13", true},
	} {
		if got := KernelOlder(c.a, c.b); got != c.want {
			t.Errorf("KernelOlder(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestKernelCheck: a kernel without a feature skips the lab when it is
// older than the feature, fails it when it should have it (a guest bpflab
// booted), and skips it with the fix on the host's own kernel.
func TestKernelCheck(t *testing.T) {
	lsm := Feature{Name: "BPF LSM programs", Since: "5.7", Fix: "CONFIG_BPF_LSM"}
	ring := Feature{Name: "BPF ring buffer maps", Since: "5.8", Fix: "5.8"}
	lab := &Lab{ID: "lab-x", MinKernel: "5.4", Features: []Feature{ring, lsm}}
	missing := func(names ...string) func(Feature) error {
		return func(f Feature) error {
			for _, n := range names {
				if f.Name == n {
					return fmt.Errorf("%w: probed", ebpf.ErrNotSupported)
				}
			}
			return nil
		}
	}
	for _, c := range []struct {
		name    string
		release string
		guest   bool
		probe   func(Feature) error
		status  Status
		skip    bool
		says    []string
	}{
		{"all there", "6.1.0", true, missing(), Pass, false, []string{"6.1.0", "BPF ring buffer maps", "BPF LSM programs"}},
		{"older than the lab", "4.19.0", true, missing(), Skip, true, []string{"5.4 and later", "4.19.0"}},
		{"older than the feature", "5.6.0", true, missing(ring.Name, lsm.Name), Skip, true, []string{"BPF LSM programs (kernels have them since 5.7)"}},
		{"should have it", "6.12.117+deb13-cloud-amd64", true, missing(lsm.Name), Fail, false, []string{"has no BPF LSM programs", "since 5.7", "CONFIG_BPF_LSM"}},
		{"one old, one should", "5.7.0", true, missing(ring.Name, lsm.Name), Fail, false, []string{"has no BPF LSM programs"}},
		{"host lacks it", "6.12.0", false, missing(lsm.Name), Skip, true, []string{"host", "CONFIG_BPF_LSM", "VM"}},
		{"cannot tell", "6.12.0", true, func(Feature) error { return errors.New("operation not permitted") }, Fail, false, []string{"cannot tell", "not permitted"}},
		{"host refuses the probe", "6.12.0", false, func(Feature) error { return errors.New("operation not permitted") }, Skip, true, []string{"host", "not permitted", "VM"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, skip := kernelCheck(lab, c.release, c.guest, c.probe)
			if got.Name != "kernel" || got.Status != c.status || skip != c.skip {
				t.Fatalf("got %s skip=%v (%s), want %s skip=%v", got.Status, skip, got.Reason, c.status, c.skip)
			}
			for _, s := range c.says {
				if !strings.Contains(got.Reason, s) {
					t.Errorf("reason %q does not say %q", got.Reason, s)
				}
			}
			if got.Status == Fail && got.Hint == "" {
				t.Error("a failed kernel check without a hint")
			}
		})
	}
}

// TestSkippedKernelSkipsEveryCheck: on a kernel too old for the lab every
// check is a skip with the reason, and the report says nothing passed.
func TestSkippedKernelSkipsEveryCheck(t *testing.T) {
	lab := &Lab{ID: "lab-x", MinKernel: "99.0", Checks: []CheckDef{{Name: "reported"}, {Name: "silent"}}}
	r := GradeObject(t.Context(), lab, "/nonexistent.o", "old", "solution", 1)
	want := []string{"compile", "kernel"}
	for _, c := range HarnessChecks[2:] {
		want = append(want, c.Name)
	}
	want = append(want, "reported", "silent")
	var names []string
	for _, c := range r.Checks {
		names = append(names, c.Name)
		if c.Name != "compile" && (c.Status != Skip || !strings.Contains(c.Reason, "99.0 and later")) {
			t.Errorf("%s: %s %q", c.Name, c.Status, c.Reason)
		}
	}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("checks %v, want %v", names, want)
	}
}

func TestLabMissing(t *testing.T) {
	lab := &Lab{MinKernel: "5.10", Features: []Feature{FeatureLSMPrograms, FeatureHelper(ebpf.TracePoint, asm.FnGetCurrentCgroupId, "4.18")}}
	if m := lab.Missing("6.1.0"); len(m) != 0 {
		t.Errorf("6.1 misses %v", m)
	}
	if m := lab.Missing("5.4.0"); len(m) != 2 || !strings.Contains(m[0], "5.10+") || !strings.Contains(m[1], "BPF LSM") {
		t.Errorf("5.4 misses %v", m)
	}
	if got := lab.Features[1].Name; got != "the helper bpf_get_current_cgroup_id in tracepoint programs" {
		t.Errorf("helper feature named %q", got)
	}
}

// The grader probes the kernel once and its workers take the check it
// hands down.
func TestCheckedKernelHandedDown(t *testing.T) {
	want := kernelChecked{Check: Check{Name: "kernel", Status: Skip, Reason: "probed once"}, Skip: true}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(kernelCheckEnv, string(b))
	if got := checkedKernel(&Lab{ID: "lab-x"}); got != want {
		t.Errorf("checkedKernel = %+v, want %+v", got, want)
	}
}

func TestFirstSymbol(t *testing.T) {
	table := "ffffffff81000000 T _stext\n" +
		"ffffffff812d5a40 T filename_unlinkat\n" +
		"ffffffff812d5b00 t filename_create\n" +
		"ffffffffc0001000 t veth_open\t[veth]\n" +
		"ffffffff812d5c00 T do_unlinkat"
	for _, c := range []struct {
		names []string
		want  string
	}{
		{[]string{"do_unlinkat", "filename_unlinkat"}, "do_unlinkat"}, // the first name wins, wherever it is
		{[]string{"do_rmdir", "filename_unlinkat"}, "filename_unlinkat"},
		{[]string{"veth_open"}, "veth_open"}, // a module's
		{[]string{"filename"}, ""},           // whole names only
		{[]string{"T"}, ""},
	} {
		got, err := FirstSymbol(strings.NewReader(table), c.names)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("FirstSymbol(%v) = %q, %v; want %q", c.names, got, err, c.want)
		}
	}
	// A line longer than the reader's buffer is skipped, not an end.
	long := "ffffffff81000000 T " + strings.Repeat("x", 100<<10) + "\nffffffff81000001 T do_unlinkat\n"
	if got, err := FirstSymbol(strings.NewReader(long), []string{"do_unlinkat"}); got != "do_unlinkat" {
		t.Errorf("after a long line: %q, %v", got, err)
	}
}
