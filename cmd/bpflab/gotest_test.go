package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// readEvents feeds a go test -json stream to testEvents in pieces of n
// bytes, and returns what it wrote to stdout and stderr.
func readEvents(t *testing.T, stream []byte, raw bool, n int) (*testEvents, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &testEvents{raw: raw, stdout: &stdout, stderr: &stderr}
	for len(stream) > 0 {
		k := min(n, len(stream))
		if _, err := e.Write(stream[:k]); err != nil {
			t.Fatal(err)
		}
		stream = stream[k:]
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	return e, stdout.String(), stderr.String()
}

func TestTestEvents(t *testing.T) {
	stream, err := os.ReadFile("testdata/events/gotest.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	// What go test without -json prints: the events' output, build errors
	// on stderr.
	var wantOut, wantErr strings.Builder
	for _, l := range bytes.Split(bytes.TrimSpace(stream), []byte("\n")) {
		var ev testEvent
		if err := json.Unmarshal(l, &ev); err != nil {
			t.Fatal(err)
		}
		switch ev.Action {
		case "output":
			wantOut.WriteString(ev.Output)
		case "build-output":
			wantErr.WriteString(ev.Output)
		}
	}
	// A line that is not an event, and a last line without its newline.
	stream = append([]byte("go: downloading example.com/x v1.0.0\n"), stream...)
	stream = append(stream, `{"Action":"output","Package":"ex/pkg","Output":"tail"}`...)
	wantOut2 := "go: downloading example.com/x v1.0.0\n" + wantOut.String() + "tail"

	wantCases := []testCase{
		{Name: "TestFixture", Status: "PASS", Seconds: 0.25},
		{Name: "TestSkipped", Status: "SKIP", Output: "=== RUN   TestSkipped\n    gotest_test.go:19: skipped on purpose\n--- SKIP: TestSkipped (0.00s)\n"},
		{Name: "TestTable/odd", Status: "FAIL", Seconds: 0.01, Output: "=== RUN   TestTable/odd\n    gotest_test.go:23: failing on request\n    --- FAIL: TestTable/odd (0.01s)\n"},
		{Name: "TestTable", Status: "FAIL", Seconds: 0.01, Output: "=== RUN   TestTable\n--- FAIL: TestTable (0.01s)\n"},
	}
	for _, n := range []int{1, 7, len(stream)} {
		e, out, errOut := readEvents(t, stream, false, n)
		if diff := cmp.Diff(wantCases, e.cases); diff != "" {
			t.Errorf("pieces of %d: cases (-want +got):\n%s", n, diff)
		}
		if out != wantOut2 {
			t.Errorf("pieces of %d: stdout\n%s\nwant\n%s", n, out, wantOut2)
		}
		if errOut != wantErr.String() {
			t.Errorf("pieces of %d: stderr\n%s\nwant\n%s", n, errOut, wantErr.String())
		}
		if len(e.running) != 0 {
			t.Errorf("pieces of %d: output kept of ended tests: %v", n, e.running)
		}
	}

	// With -json asked for, the events go on as they came.
	e, out, errOut := readEvents(t, stream, true, 5)
	if out != string(stream) || errOut != "" {
		t.Errorf("raw: stdout differs from the stream, or stderr %q", errOut)
	}
	if diff := cmp.Diff(wantCases, e.cases); diff != "" {
		t.Errorf("raw: cases (-want +got):\n%s", diff)
	}
}

func TestGoTestCommand(t *testing.T) {
	execArgs := []string{"/bin/bpflab", "exec", "--kernel", "/k/v", "--env", "A=b c"}
	for _, tc := range []struct {
		name    string
		cmdline []string
		want    []string
		asked   bool
	}{
		{"plain", []string{"go", "test", "./..."},
			[]string{"go", "test", "-exec", "/bin/bpflab exec --kernel /k/v --env 'A=b c'", "-json", "./..."}, false},
		{"-v", []string{"/usr/bin/go", "test", "-v", "-run", "X", "./p"},
			[]string{"/usr/bin/go", "test", "-exec", "/bin/bpflab exec --kernel /k/v --env 'A=b c'", "-json", "-v", "-run", "X", "./p"}, false},
		{"-json", []string{"go", "test", "-json", "./p"},
			[]string{"go", "test", "-exec", "/bin/bpflab exec --kernel /k/v --env 'A=b c'", "-json", "./p"}, true},
		{"--json=true", []string{"go", "test", "--json=true", "./p"},
			[]string{"go", "test", "-exec", "/bin/bpflab exec --kernel /k/v --env 'A=b c'", "--json=true", "./p"}, true},
		{"-json after -args is the binary's", []string{"go", "test", "./p", "-args", "-json"},
			[]string{"go", "test", "-exec", "/bin/bpflab exec --kernel /k/v --env 'A=b c'", "-json", "./p", "-args", "-json"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, asked, err := goTestCommand(tc.cmdline, execArgs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || asked != tc.asked {
				t.Errorf("asked %v, want %v; argv (-want +got):\n%s", asked, tc.asked, diff)
			}
		})
	}
	if !isGoTest([]string{"/usr/local/go/bin/go", "test"}) || isGoTest([]string{"go", "vet"}) || isGoTest([]string{"./x.test"}) {
		t.Error("isGoTest")
	}
}

// A test binary run without go test: its -test.v lines are counted.
func TestTestCounter(t *testing.T) {
	var c testCounter
	c.Write([]byte("=== RUN   TestA\n--- PASS: TestA (0.50s)\n=== RUN   TestB\n    --- SKIP: TestB/x (0.00s)\n\x16--- FAIL: TestB (1.25s)\nPASS\n--- PASS: TestC (0.00s)"))
	c.flush()
	want := []testCase{{Name: "TestA", Status: "PASS", Seconds: 0.5}, {Name: "TestB/x", Status: "SKIP"}, {Name: "TestB", Status: "FAIL", Seconds: 1.25}, {Name: "TestC", Status: "PASS"}}
	if diff := cmp.Diff(want, c.cases); diff != "" || c.pass != 2 || c.fail != 1 || c.skip != 1 {
		t.Errorf("pass %d fail %d skip %d; cases (-want +got):\n%s", c.pass, c.fail, c.skip, diff)
	}
}

func TestPrintsFail(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"./..."}, true},
		{[]string{"-v", "-count=1", "./p", "./q"}, true},
		{[]string{"-run", "TestX", "-timeout", "5m", "."}, true},
		{nil, false},
		{[]string{"-v", "-short"}, false},
		{[]string{"-run", "TestX", "-count", "1"}, false},
		{[]string{"-args", "./p"}, false},
		{[]string{"./p", "-args", "-fuzz"}, true},
		{[]string{"-fuzz", "FuzzX", "./p"}, false},
	} {
		if got := printsFail(tc.args); got != tc.want {
			t.Errorf("printsFail(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
