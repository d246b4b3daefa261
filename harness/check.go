package harness

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Status is a check's outcome.
type Status string

const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	// Skip is a check that cannot run on this kernel; Reason says why.
	Skip Status = "SKIP"
)

// Check is one named, graded property of a submission.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Reason is one line: what was seen.
	Reason string `json:"reason"`
	// Hint is one line on what to look at, for failures.
	Hint string `json:"hint,omitempty"`
	// Detail is longer text (a diff, a verifier log), shown indented.
	Detail string `json:"detail,omitempty"`
}

// Report is the grade of one submission on one kernel.
type Report struct {
	Lab    string `json:"lab"`
	Kernel string `json:"kernel"`
	Source string `json:"source"`
	// Seed made the scenario: bpflab grade --seed N runs the same one.
	Seed   uint64  `json:"seed"`
	Checks []Check `json:"checks"`
	// Attached is what the loader attached to, when it chose (lab 2).
	Attached string `json:"attached,omitempty"`
	// Notes are facts about the run a reader should know (the kernel
	// skipped runs of the program, processes were run again).
	Notes []string `json:"notes,omitempty"`

	// What an instructor needs to prove which file got which grade,
	// filled in on the host when grading ends ([Report.Seal]).
	Verdict string    `json:"verdict,omitempty"` // PASS or FAIL
	Counts  Counts    `json:"counts"`
	SHA256  string    `json:"sha256,omitempty"` // of the source file graded
	Version string    `json:"bpflab_version,omitempty"`
	Time    time.Time `json:"time,omitzero"`
}

// Counts are how many checks passed, failed and were skipped.
type Counts struct {
	Pass int `json:"pass"`
	Fail int `json:"fail"`
	Skip int `json:"skip"`
}

// Version is bpflab's version: the module version, or the VCS revision it
// was built from (with "+dirty" for uncommitted changes).
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}

// Seal fills in the verdict, the counts, the source's SHA-256, bpflab's
// version and the time.
func (r *Report) Seal(src string) {
	r.Counts = Counts{}
	for _, c := range r.Checks {
		switch c.Status {
		case Pass:
			r.Counts.Pass++
		case Fail:
			r.Counts.Fail++
		case Skip:
			r.Counts.Skip++
		}
	}
	r.Verdict = string(Fail)
	if r.Passed() {
		r.Verdict = string(Pass)
	}
	if b, err := os.ReadFile(src); err == nil {
		r.SHA256 = fmt.Sprintf("%x", sha256.Sum256(b))
	}
	r.Version = Version()
	r.Time = time.Now().UTC().Truncate(time.Second)
}

// Passed reports whether no check failed (skips do not fail a grade) and
// at least one check ran.
func (r *Report) Passed() bool {
	if len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if c.Status == Fail {
			return false
		}
	}
	return true
}

// Add appends a check.
func (r *Report) Add(c Check) { r.Checks = append(r.Checks, c) }

// Failed lists the names of failed checks.
func (r *Report) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c.Name)
		}
	}
	return out
}

// Print writes the report for a person: one line a check, the reason, the
// hint, and details indented. verbose prints details in full.
func (r *Report) Print(w io.Writer, verbose bool) {
	fmt.Fprintf(w, "%s on kernel %s: %s (seed %d)\n", Printable(r.Lab), Printable(r.Kernel), Printable(r.Source), r.Seed)
	if r.Attached != "" {
		fmt.Fprintf(w, "  (attached to %s)\n", Printable(r.Attached))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", Printable(n))
	}
	pass, fail, skip := 0, 0, 0
	for _, c := range r.Checks {
		// A reason's further lines (clang's, the verifier's) go with the
		// detail: only the grader's own words start a line.
		reason, more, _ := strings.Cut(c.Reason, "\n")
		fmt.Fprintf(w, "  %s  %-28s %s\n", c.Status, Printable(c.Name), Printable(reason))
		switch c.Status {
		case Pass:
			pass++
		case Fail:
			fail++
		case Skip:
			skip++
		}
		if c.Status == Fail && c.Hint != "" {
			fmt.Fprintf(w, "        hint: %s\n", Printable(c.Hint))
		}
		detail := c.Detail
		if c.Status == Pass {
			detail = ""
		}
		if more != "" {
			detail = strings.TrimRight(more, "\n") + "\n" + detail
		}
		if detail != "" {
			lines := strings.Split(strings.TrimRight(detail, "\n"), "\n")
			if !verbose && len(lines) > 15 {
				lines = append([]string{fmt.Sprintf("... (%d lines above; -v shows all)", len(lines)-15)}, lines[len(lines)-15:]...)
			}
			for _, l := range lines {
				fmt.Fprintf(w, "        | %s\n", Printable(l))
			}
		}
	}
	switch {
	case !r.Passed():
		fmt.Fprintf(w, "  FAILED: %d passed, %d failed, %d skipped\n", pass, fail, skip)
	case skip > 0:
		fmt.Fprintf(w, "  PASSED what this kernel can grade: %d passed, %d skipped (see the reasons; try another kernel)\n", pass, skip)
	default:
		fmt.Fprintf(w, "  PASSED: %d passed, %d failed, %d skipped\n", pass, fail, skip)
	}
}

// Printable is s for a terminal, on one line: a report carries what a
// submission chose (its symbol and section names, its Go program's
// errors, clang's and the verifier's words about it), and a newline or an
// escape sequence there could forge a line of the report or hide the
// rest. Control characters show as Go escapes (\n, \x1b), and so do bytes
// that are not UTF-8; a tab stays.
func Printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, unprintable) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case unprintable(c):
			q := strconv.QuoteRune(c)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unprintable tells a rune Printable escapes: all but printable ones and
// a tab.
func unprintable(c rune) bool { return c != '\t' && !strconv.IsPrint(c) }

// WriteJSON writes reports to path ("-" for stdout).
func WriteJSON(path string, reports []*Report) error {
	b, err := json.MarshalIndent(reports, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// ReadJSON reads reports written by WriteJSON.
func ReadJSON(path string) ([]*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rs []*Report
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	return rs, nil
}
