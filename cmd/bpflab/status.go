package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/internal/fileutil"
)

// A student's progress: every 'bpflab grade' of their own files records
// its outcome in the source tree's .bpflab/status.json (git ignores it),
// and 'bpflab status' shows it.

const statusFile = ".bpflab/status.json"

// progressEntry is the latest grade of one file for a lab on one kernel.
type progressEntry struct {
	Lab     string    `json:"lab"`
	Kernel  string    `json:"kernel"`
	Source  string    `json:"source"`
	Verdict string    `json:"verdict"`
	Passed  []string  `json:"passed"`
	Failed  []string  `json:"failed,omitempty"`
	Time    time.Time `json:"time"`
	Seed    uint64    `json:"seed"`
	// FirstPass is when this file first passed on this kernel.
	FirstPass time.Time `json:"first_pass,omitzero"`
}

type progressFile struct {
	Grades []progressEntry `json:"grades"`
}

func readProgress(root string) (*progressFile, error) {
	var p progressFile
	b, err := os.ReadFile(filepath.Join(root, statusFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &p, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w (delete it to start afresh)", filepath.Join(root, statusFile), err)
	}
	return &p, nil
}

// recordProgress records reports of a student's own files (not the
// reference solution's). Errors are the caller's to log: progress is a
// convenience, never a reason for a grade to fail.
func recordProgress(root string, reports []*harness.Report) error {
	p, err := readProgress(root)
	if err != nil {
		return err
	}
	for _, r := range reports {
		if r.Source == "solution" {
			continue
		}
		e := progressEntry{Lab: r.Lab, Kernel: r.Kernel, Source: r.Source, Verdict: r.Verdict, Failed: r.Failed(), Time: r.Time, Seed: r.Seed}
		for _, c := range r.Checks {
			if c.Status == harness.Pass {
				e.Passed = append(e.Passed, c.Name)
			}
		}
		replaced := false
		for i, old := range p.Grades {
			if old.Lab == e.Lab && old.Kernel == e.Kernel && old.Source == e.Source {
				e.FirstPass = old.FirstPass
				if e.FirstPass.IsZero() && e.Verdict == string(harness.Pass) {
					e.FirstPass = e.Time
				}
				p.Grades[i], replaced = e, true
			}
		}
		if !replaced {
			if e.Verdict == string(harness.Pass) {
				e.FirstPass = e.Time
			}
			p.Grades = append(p.Grades, e)
		}
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(root, statusFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return fileutil.Replace(path, bytes.NewReader(b), 0o644)
}

// cmdStatus is 'bpflab status': each lab, where its file passed, and its
// latest grade.
func cmdStatus(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	root, err := sourceRoot()
	if err != nil {
		return err
	}
	p, err := readProgress(root)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAB\tPASSED ON\tLATEST GRADE\tFAILED CHECKS\tFILE")
	for _, l := range harness.Labs() {
		var mine []progressEntry
		for _, e := range p.Grades {
			if e.Lab == l.ID {
				mine = append(mine, e)
			}
		}
		if len(mine) == 0 {
			fmt.Fprintf(tw, "%s\t-\tnot graded yet (make %s)\t\t\n", l.ID, l.ID)
			continue
		}
		sort.Slice(mine, func(i, j int) bool { return mine[i].Time.After(mine[j].Time) })
		var passed []string
		seen := map[string]bool{}
		for _, e := range mine {
			if e.Verdict == string(harness.Pass) && !seen[e.Kernel] {
				seen[e.Kernel] = true
				passed = append(passed, e.Kernel)
			}
		}
		sort.Strings(passed)
		on := strings.Join(passed, ", ")
		if on == "" {
			on = "-"
		}
		last := mine[0]
		fmt.Fprintf(tw, "%s\t%s\t%s on %s, %s\t%s\t%s\n", l.ID, on, last.Verdict, last.Kernel,
			last.Time.Local().Format("Jan 2 15:04"), strings.Join(last.Failed, ","), last.Source)
	}
	return tw.Flush()
}
