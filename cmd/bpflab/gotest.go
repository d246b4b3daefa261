package main

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// 'bpflab run -- go test ...' runs go test with -exec pointing back at
// 'bpflab exec' and with -json, and reads go test's events (test2json's):
// each test's result for the summary and JUnit, and the output, which it
// prints as the events themselves if -json was asked for, else as the text
// 'go test -v' prints.

// testCase is one test's result.
type testCase struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"` // PASS, FAIL or SKIP
	Seconds float64 `json:"seconds"`
	// Output is the tail of what a test that failed or skipped printed,
	// for JUnit; only go test's events give it.
	Output string `json:"-"`
}

// isGoTest reports whether cmdline is a 'go test' command.
func isGoTest(cmdline []string) bool {
	return len(cmdline) >= 2 && filepath.Base(cmdline[0]) == "go" && cmdline[1] == "test"
}

// goTestCommand is cmdline, a 'go test' command, with -exec running each
// test binary as execArgs says, and with -json. asked says whether
// cmdline has -json itself, so that the events are what the user wants to
// see.
func goTestCommand(cmdline, execArgs []string) (argv []string, asked bool, err error) {
	execValue, err := goExecQuote(execArgs)
	if err != nil {
		return nil, false, err
	}
	rest := cmdline[2:]
	argv = []string{cmdline[0], "test", "-exec", execValue}
	asked = asksJSON(rest)
	if !asked {
		argv = append(argv, "-json")
	}
	return append(argv, rest...), asked, nil
}

// asksJSON reports whether go test's arguments have -json. Those after
// -args are the test binary's.
func asksJSON(args []string) bool {
	for _, a := range args {
		switch strings.TrimLeft(a, "-") {
		case "args":
			return false
		case "json", "json=true":
			return true
		}
	}
	return false
}

// goBoolFlags are the flags of go test, and of the go build flags it
// takes, that take no value.
var goBoolFlags = map[string]bool{
	"a": true, "asan": true, "benchmem": true, "buildvcs": true, "c": true, "cover": true,
	"failfast": true, "fullpath": true, "i": true, "json": true, "linkshared": true,
	"modcacherw": true, "msan": true, "n": true, "race": true, "short": true,
	"trimpath": true, "v": true, "work": true, "x": true,
}

// printsFail reports whether 'go test' with these arguments ends with a
// line "FAIL" when it fails, as it does without -json when packages are
// named and it is not fuzzing. With -json it does not print it, so
// bpflab does.
func printsFail(args []string) bool {
	packages := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			packages = true
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case name == "args":
			return packages
		case name == "fuzz":
			return false
		case !hasValue && !goBoolFlags[name]:
			i++ // the flag's value
		}
	}
	return packages
}

// goExecQuote joins argv into a value of go test's -exec flag. The go
// command splits the value at white space and takes a field in single or
// double quotes as it is, with no escapes: an argument with both kinds of
// quote cannot be passed.
func goExecQuote(argv []string) (string, error) {
	out := make([]string, len(argv))
	for i, a := range argv {
		switch {
		case a != "" && !strings.ContainsAny(a, " \t\r\n'\""):
			out[i] = a
		case !strings.Contains(a, "'"):
			out[i] = "'" + a + "'"
		case !strings.Contains(a, `"`):
			out[i] = `"` + a + `"`
		default:
			return "", usagef("%q has both kinds of quote, which 'go test -exec' cannot pass on to bpflab exec", a)
		}
	}
	return strings.Join(out, " "), nil
}

// testEvent is a line of 'go test -json': the fields of test2json's
// TestEvent that bpflab reads.
type testEvent struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

// testOutputMax bounds the output kept of a test, for JUnit.
const testOutputMax = 64 << 10

// testEvents reads go test -json's standard output as it is written, keeps
// each test's result, and writes the output on: with raw, the events as
// they are; else their text, where go test without -json prints it (build
// errors to stderr). A line that is not an event is written on as it is.
type testEvents struct {
	raw            bool
	stdout, stderr io.Writer
	cases          []testCase

	buf     bytes.Buffer
	running map[[2]string]*tailBuffer // output of tests not yet ended, by package and name
}

func (e *testEvents) Write(p []byte) (int, error) {
	e.buf.Write(p)
	for {
		i := bytes.IndexByte(e.buf.Bytes(), '\n')
		if i < 0 {
			return len(p), nil
		}
		if err := e.line(e.buf.Next(i + 1)); err != nil {
			return len(p), err
		}
	}
}

// Flush reads a last line that has no newline.
func (e *testEvents) Flush() error {
	if e.buf.Len() == 0 {
		return nil
	}
	defer e.buf.Reset()
	return e.line(e.buf.Bytes())
}

func (e *testEvents) line(l []byte) error {
	var ev testEvent
	if !bytes.HasPrefix(l, []byte("{")) || json.Unmarshal(l, &ev) != nil || ev.Action == "" {
		_, err := e.stdout.Write(l)
		return err
	}
	e.record(ev)
	var err error
	switch {
	case e.raw:
		_, err = e.stdout.Write(l)
	case ev.Action == "build-output":
		_, err = io.WriteString(e.stderr, ev.Output)
	case ev.Action == "output":
		_, err = io.WriteString(e.stdout, ev.Output)
	}
	return err
}

func (e *testEvents) record(ev testEvent) {
	if ev.Test == "" {
		return
	}
	key := [2]string{ev.Package, ev.Test}
	switch ev.Action {
	case "output":
		if e.running == nil {
			e.running = map[[2]string]*tailBuffer{}
		}
		out := e.running[key]
		if out == nil {
			out = &tailBuffer{max: testOutputMax}
			e.running[key] = out
		}
		out.Write([]byte(ev.Output))
	case "pass", "fail", "skip":
		tc := testCase{Name: ev.Test, Status: strings.ToUpper(ev.Action), Seconds: ev.Elapsed}
		if out := e.running[key]; out != nil && ev.Action != "pass" {
			tc.Output = string(out.Bytes())
		}
		delete(e.running, key)
		e.cases = append(e.cases, tc)
	}
}

// testCounter reads the result lines of a test binary that 'bpflab run'
// runs itself, not through go test (bpflab run -- ./pkg.test -test.v):
// there are no events, only what the binary prints with -test.v.
type testCounter struct {
	buf              bytes.Buffer
	pass, fail, skip int
	cases            []testCase
}

// resultLine is a test's result as -test.v prints it, or -test.v=test2json
// (with a leading ^V).
var resultLine = regexp.MustCompile(`^\x16?\s*--- (PASS|FAIL|SKIP): (\S+) \(([0-9.]+)s\)`)

func (c *testCounter) Write(p []byte) (int, error) {
	c.buf.Write(p)
	for {
		i := bytes.IndexByte(c.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		c.line(string(c.buf.Next(i + 1)))
	}
	return len(p), nil
}

func (c *testCounter) flush() {
	if c.buf.Len() > 0 {
		c.line(c.buf.String())
		c.buf.Reset()
	}
}

func (c *testCounter) line(l string) {
	m := resultLine.FindStringSubmatch(l)
	if m == nil {
		return
	}
	secs, _ := strconv.ParseFloat(m[3], 64)
	c.cases = append(c.cases, testCase{Name: m[2], Status: m[1], Seconds: secs})
	switch m[1] {
	case "PASS":
		c.pass++
	case "FAIL":
		c.fail++
	case "SKIP":
		c.skip++
	}
}
