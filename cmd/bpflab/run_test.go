package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Kernels run newest first (the end of the list), at most par at once.
func TestInParallel(t *testing.T) {
	var mu sync.Mutex
	var order []int
	inParallel(4, 1, func(i int) {
		mu.Lock()
		order = append(order, i)
		mu.Unlock()
	})
	if diff := cmp.Diff([]int{3, 2, 1, 0}, order); diff != "" {
		t.Errorf("order with one at a time (-want +got):\n%s", diff)
	}

	var now, most atomic.Int32
	var ran [6]atomic.Bool
	inParallel(len(ran), 2, func(i int) {
		n := now.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		ran[i].Store(true)
		now.Add(-1)
	})
	if most.Load() != 2 {
		t.Errorf("at most %d at once, want 2", most.Load())
	}
	for i := range ran {
		if !ran[i].Load() {
			t.Errorf("%d did not run", i)
		}
	}
}

func TestSummarise(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.jsonl")
	// An exec of go test's that counted the binary's output itself, and
	// one that ended in a boot hang.
	for _, o := range []outcome{
		{Kernel: "6.1", Program: "pkg.test", Pass: 9, Tests: []testCase{{Name: "TestCounted", Status: "PASS"}}},
		{Kernel: "6.1", Program: "other.test", Exit: 66, Class: "boot hang"},
	} {
		if err := appendReport(report, o); err != nil {
			t.Fatal(err)
		}
	}
	tgt := target{name: "6.1"}
	events := []testCase{{Name: "TestA", Status: "PASS"}, {Name: "TestB", Status: "FAIL"}, {Name: "TestC", Status: "SKIP"}, {Name: "TestD", Status: "PASS"}}

	// go test: the events count, the reports give the class.
	r := summarise(tgt, kernelRun{exit: 1, tests: events, counted: true}, nil, report, time.Second, io.Discard)
	if r.Pass != 2 || r.Fail != 1 || r.Skip != 1 || r.Result != "boot hang" || r.Exit != 1 || len(r.Tests) != 4 {
		t.Errorf("go test: %+v, want 2 1 1 from the events, boot hang from the reports", r)
	}
	// Another command: the reports count.
	r = summarise(tgt, kernelRun{exit: 66}, nil, report, time.Second, io.Discard)
	if r.Pass != 1 || r.Fail != 0 || r.Result != "boot hang" || r.Tests[0].Name != "TestCounted" {
		t.Errorf("a binary: %+v, want the report's test", r)
	}
	r = summarise(tgt, kernelRun{}, nil, filepath.Join(t.TempDir(), "none"), time.Second, io.Discard)
	if r.Result != "ok" {
		t.Errorf("no reports, exit 0: %+v, want ok", r)
	}
}

// bpflab run on the host's own kernel: go test's events make the summary,
// the JSON and the JUnit XML, and the output is what go test -v prints.
// No guest is booted.
func TestRunOnHost(t *testing.T) {
	hermetic(t)
	dir := t.TempDir()
	jsonOut, junitOut := filepath.Join(dir, "s.json"), filepath.Join(dir, "j.xml")
	stdout, stderr, code := bpflab(t, []string{"BPFLAB_GUEST=1", "BPFLAB_GOTEST_FAIL=1"},
		"run", "--kernel", "host", "--json", jsonOut, "--junit", junitOut, "--", "go", "test", "-count=1", "./testdata/gotest")
	if code != 1 {
		t.Errorf("exit %d, want 1 (a test fails)\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"=== RUN   TestFixture\n", "--- FAIL: TestFailsOnRequest", "    gotest_test.go:23: failing on request\n", "--- SKIP: TestSkipped"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, `"Action"`) {
		t.Errorf("events on stdout, though -json was not asked for:\n%s", stdout)
	}
	row := ""
	for _, l := range strings.Split(stdout, "\n") {
		if f := strings.Fields(l); len(f) == 6 && f[0] == "host" {
			row = strings.Join(f[:5], " ")
		}
	}
	if row != "host FAIL 2 1 1" {
		t.Errorf("summary row %q, want host FAIL 2 1 1:\n%s", row, stdout)
	}

	var summary []kernelResult
	b, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &summary); err != nil {
		t.Fatal(err)
	}
	if len(summary) != 1 || summary[0].Pass != 2 || summary[0].Fail != 1 || summary[0].Skip != 1 || len(summary[0].Tests) != 4 {
		t.Errorf("--json: %s", b)
	}

	b, err = os.ReadFile(junitOut)
	if err != nil {
		t.Fatal(err)
	}
	var junit struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Data string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &junit); err != nil {
		t.Fatal(err)
	}
	if len(junit.Suites) != 1 || junit.Suites[0].Name != "kernel host" || junit.Suites[0].Tests != 4 || junit.Suites[0].Failures != 1 {
		t.Fatalf("--junit:\n%s", b)
	}
	for _, c := range junit.Suites[0].Cases {
		if c.Name == "TestFailsOnRequest" && (c.Failure == nil || !strings.Contains(c.Failure.Data, "failing on request")) {
			t.Errorf("the failure lacks the test's output:\n%s", b)
		}
	}

	// With -json, the events themselves, and the same counts.
	stdout, _, code = bpflab(t, []string{"BPFLAB_GUEST=1"},
		"run", "--kernel", "host", "--", "go", "test", "-count=1", "-json", "./testdata/gotest")
	if code != 0 || !strings.Contains(stdout, `"Action":"pass","Package":"github.com/bpflab/bpflab/cmd/bpflab/testdata/gotest","Test":"TestFixture"`) {
		t.Errorf("exit %d, want 0 and the events:\n%s", code, stdout)
	}
	if !strings.Contains(stdout, "host    ok      3     0     1") {
		t.Errorf("summary, want host ok 3 0 1:\n%s", stdout)
	}
}
