package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"sync"
)

// The reports 'bpflab exec --report FILE' appends, a JSON line per run, are
// how the execs that 'go test -exec' starts tell 'bpflab run' how each run
// ended: its exit code and, for a failure of bpflab's own, its class.

// outcome is what one exec reports to 'bpflab run'.
type outcome struct {
	Kernel  string     `json:"kernel"`
	Program string     `json:"program"`
	Exit    int        `json:"exit"`
	Class   string     `json:"class,omitempty"`
	Pass    int        `json:"pass"`
	Fail    int        `json:"fail"`
	Skip    int        `json:"skip"`
	Seconds float64    `json:"seconds"`
	Tests   []testCase `json:"tests,omitempty"`
}

var reportMu sync.Mutex

// appendReport appends o to the report file p as a line of JSON.
func appendReport(p string, o outcome) error {
	reportMu.Lock()
	defer reportMu.Unlock()
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	// One write of a line is atomic for O_APPEND files, so parallel execs
	// of one go test never mix their lines.
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readReports reads the outcome lines 'bpflab exec --report' appended.
func readReports(p string) ([]outcome, error) {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	var out []outcome
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var o outcome
		if err := json.Unmarshal(sc.Bytes(), &o); err == nil {
			out = append(out, o)
		}
	}
	return out, sc.Err()
}
