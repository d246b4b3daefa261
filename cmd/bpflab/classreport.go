package main

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"html/template"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/bpflab/bpflab/harness"
)

// A class report is the reports of many submissions on one or more
// kernels, as a table for a person (printClass), a CSV file, and a static
// HTML page. 'bpflab report merge' makes one from the JSON of several
// shards.

// classTable is reports arranged as students × kernels × checks.
type classTable struct {
	Lab      string
	Students []string
	Kernels  []string
	Checks   []string
	cells    map[[2]string]*harness.Report // student, kernel
}

func newClassTable(reports []*harness.Report) *classTable {
	t := &classTable{cells: map[[2]string]*harness.Report{}}
	students, kernels, checks := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, r := range reports {
		t.Lab = r.Lab
		if !students[r.Source] {
			students[r.Source] = true
			t.Students = append(t.Students, r.Source)
		}
		if !kernels[r.Kernel] {
			kernels[r.Kernel] = true
			t.Kernels = append(t.Kernels, r.Kernel)
		}
		for _, c := range r.Checks {
			if !checks[c.Name] {
				checks[c.Name] = true
				t.Checks = append(t.Checks, c.Name)
			}
		}
		t.cells[[2]string{r.Source, r.Kernel}] = r
	}
	// Checks in the lab's order when the lab is known: its reports add
	// them in that order, but a report that stopped early lacks some.
	if lab, ok := labs[t.Lab]; ok {
		order := map[string]int{}
		for i, c := range harness.HarnessChecks {
			order[c.Name] = i
		}
		for i, c := range lab.Checks {
			order[c.Name] = len(harness.HarnessChecks) + i
		}
		sort.SliceStable(t.Checks, func(i, j int) bool { return order[t.Checks[i]] < order[t.Checks[j]] })
	}
	sort.Strings(t.Students)
	sort.Strings(t.Kernels)
	return t
}

func (t *classTable) report(student, kernel string) *harness.Report {
	return t.cells[[2]string{student, kernel}]
}

func check(r *harness.Report, name string) *harness.Check {
	if r == nil {
		return nil
	}
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

// printClass writes the class as a table: a line per student, a column
// per kernel with PASS or FAIL and the failed checks.
func printClass(w io.Writer, t *classTable) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "STUDENT\t%s\n", strings.Join(t.Kernels, "\t"))
	for _, s := range t.Students {
		var cols []string
		for _, k := range t.Kernels {
			r := t.report(s, k)
			switch {
			case r == nil:
				cols = append(cols, "-")
			case r.Passed():
				cols = append(cols, "PASS")
			default:
				cols = append(cols, "FAIL "+strings.Join(r.Failed(), ","))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\n", harness.Printable(s), strings.Join(cols, "\t"))
	}
	tw.Flush()
	passed := 0
	for _, s := range t.Students {
		all := true
		for _, k := range t.Kernels {
			r := t.report(s, k)
			all = all && r != nil && r.Passed()
		}
		if all {
			passed++
		}
	}
	fmt.Fprintf(w, "%d of %d students pass on every kernel graded (%s)\n", passed, len(t.Students), strings.Join(t.Kernels, ", "))
}

// writeCSV writes a row per student and kernel: the verdict, the counts,
// the failed checks, the seed, the file's SHA-256, then each check's
// status.
func writeCSV(w io.Writer, t *classTable) error {
	cw := csv.NewWriter(w)
	head := append([]string{"student", "kernel", "verdict", "passed", "failed", "skipped", "failed_checks", "seed", "sha256"}, t.Checks...)
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, s := range t.Students {
		for _, k := range t.Kernels {
			r := t.report(s, k)
			if r == nil {
				continue
			}
			row := []string{s, k, r.Verdict, strconv.Itoa(r.Counts.Pass), strconv.Itoa(r.Counts.Fail), strconv.Itoa(r.Counts.Skip),
				strings.Join(r.Failed(), ";"), strconv.FormatUint(r.Seed, 10), r.SHA256}
			for _, name := range t.Checks {
				if c := check(r, name); c != nil {
					row = append(row, string(c.Status))
				} else {
					row = append(row, "")
				}
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// checkSummary is how a check went across the class: its failures, and
// the reasons most often given.
type checkSummary struct {
	Name          string
	Failed, Total int
	Common        []string
}

// Summaries are the checks across the class, in order.
func (t *classTable) Summaries() []checkSummary {
	var out []checkSummary
	for _, name := range t.Checks {
		s := checkSummary{Name: name}
		reasons := map[string]int{}
		for _, st := range t.Students {
			for _, k := range t.Kernels {
				c := check(t.report(st, k), name)
				if c == nil {
					continue
				}
				s.Total++
				if c.Status == harness.Fail {
					s.Failed++
					reasons[gist(c)]++
				}
			}
		}
		var rs []string
		for r := range reasons {
			rs = append(rs, r)
		}
		sort.Slice(rs, func(i, j int) bool {
			return reasons[rs[i]] > reasons[rs[j]] || reasons[rs[i]] == reasons[rs[j]] && rs[i] < rs[j]
		})
		for i, r := range rs {
			if i == 3 {
				break
			}
			s.Common = append(s.Common, fmt.Sprintf("%d× %s", reasons[r], r))
		}
		out = append(out, s)
	}
	return out
}

// gist is what a failure has in common with others of its kind: its hint,
// or else the start of its reason.
func gist(c *harness.Check) string {
	if c.Hint != "" {
		return c.Hint
	}
	r := c.Reason
	if len(r) > 100 {
		r = r[:100] + "…"
	}
	return r
}

var classPage = template.Must(template.New("class").Funcs(template.FuncMap{
	"cell": func(t *classTable, s, k, name string) template.HTML {
		r := t.report(s, k)
		c := check(r, name)
		if c == nil {
			return `<td class="none" title="not run">·</td>`
		}
		mark := map[harness.Status]string{harness.Pass: "✓", harness.Fail: "✗", harness.Skip: "–"}[c.Status]
		tip := c.Reason
		if c.Hint != "" {
			tip += "\nhint: " + c.Hint
		}
		return template.HTML(fmt.Sprintf(`<td class="%s" title="%s">%s</td>`,
			strings.ToLower(string(c.Status)), template.HTMLEscapeString(tip), mark))
	},
	"verdict": func(t *classTable, s, k string) template.HTML {
		r := t.report(s, k)
		if r == nil {
			return `<td class="none">·</td>`
		}
		v := "pass"
		if !r.Passed() {
			v = "fail"
		}
		return template.HTML(fmt.Sprintf(`<td class="%s verdict" title="%s">%s</td>`, v,
			template.HTMLEscapeString(fmt.Sprintf("seed %d, %d passed, %d failed, %d skipped", r.Seed, r.Counts.Pass, r.Counts.Fail, r.Counts.Skip)),
			strings.ToUpper(v)))
	},
	"inc": func(n int) int { return n + 1 },
	"pct": func(a, b int) int {
		if b == 0 {
			return 0
		}
		return 100 * a / b
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>bpflab: {{.Lab}}, {{len .Students}} students</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: center; }
th.check { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; white-space: nowrap; }
td.student { text-align: left; font-family: monospace; }
td.pass { background: #d4f4d4; } td.fail { background: #f8d0d0; } td.skip { background: #eee8c8; } td.none { color: #aaa; }
td.verdict { font-weight: bold; }
td.reasons { text-align: left; font-size: 12px; }
.bar { display: inline-block; height: 10px; background: #d33; vertical-align: middle; }
</style></head><body>
<h1>{{.Lab}}: {{len .Students}} students on {{range $i, $k := .Kernels}}{{if $i}}, {{end}}{{$k}}{{end}}</h1>
<p>Hover over a cell for the check's reason and hint.</p>
<table>
<tr><th rowspan="2">student</th>{{range .Kernels}}<th colspan="{{len $.Checks | inc}}">{{.}}</th>{{end}}</tr>
<tr>{{range .Kernels}}<th class="check">grade</th>{{range $.Checks}}<th class="check">{{.}}</th>{{end}}{{end}}</tr>
{{range $s := .Students}}<tr><td class="student">{{$s}}</td>{{range $k := $.Kernels}}{{verdict $ $s $k}}{{range $c := $.Checks}}{{cell $ $s $k $c}}{{end}}{{end}}</tr>
{{end}}</table>
<h2>Checks across the class</h2>
<table>
<tr><th>check</th><th>failed</th><th></th><th>most common reasons</th></tr>
{{range .Summaries}}<tr><td class="student">{{.Name}}</td><td>{{.Failed}} of {{.Total}}</td><td><span class="bar" style="width: {{pct .Failed .Total}}px"></span></td><td class="reasons">{{range .Common}}{{.}}<br>{{end}}</td></tr>
{{end}}</table>
</body></html>
`))

// writeHTML writes the class as a static HTML page.
func writeHTML(w io.Writer, t *classTable) error {
	return classPage.Execute(w, t)
}

// writeClass writes the class report files that were asked for.
func writeClass(reports []*harness.Report, jsonPath, csvPath, htmlPath string) error {
	if jsonPath != "" {
		if err := harness.WriteJSON(jsonPath, reports); err != nil {
			return fmt.Errorf("writing --json %s: %w", jsonPath, err)
		}
	}
	t := newClassTable(reports)
	for _, out := range []struct {
		flag, path string
		write      func(io.Writer, *classTable) error
	}{{"--csv", csvPath, writeCSV}, {"--html", htmlPath, writeHTML}} {
		if out.path == "" {
			continue
		}
		var b bytes.Buffer
		if err := out.write(&b, t); err != nil {
			return fmt.Errorf("writing %s %s: %w", out.flag, out.path, err)
		}
		if out.path == "-" {
			os.Stdout.Write(b.Bytes())
			continue
		}
		if err := os.WriteFile(out.path, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("writing %s %s: %w", out.flag, out.path, err)
		}
	}
	return nil
}

// cmdReport is 'bpflab report merge': the JSON reports of several runs
// (the shards of a class) as one class report.
func cmdReport(args []string, stdout io.Writer) error {
	if len(args) > 0 && isHelpFlag(args[0]) {
		fmt.Fprintln(stdout, "Usage: bpflab report merge [--json FILE] [--csv FILE] [--html FILE] REPORT.json...")
		return nil
	}
	if len(args) == 0 || args[0] != "merge" {
		return usagef("report needs a subcommand: bpflab report merge [--json F] [--csv F] [--html F] REPORT.json...")
	}
	fs := flag.NewFlagSet("report merge", flag.ContinueOnError)
	var jsonPath, csvPath, htmlPath string
	fs.StringVar(&jsonPath, "json", "", "write the merged reports as JSON to `FILE`")
	fs.StringVar(&csvPath, "csv", "", "write the class as CSV to `FILE` (- for stdout)")
	fs.StringVar(&htmlPath, "html", "", "write the class as an HTML page to `FILE`")
	if err := parseFlags(fs, args[1:], stdout); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("report merge needs the JSON reports to merge (bpflab grade --json FILE writes them)")
	}
	for _, o := range []struct{ f, p string }{{"--json", jsonPath}, {"--csv", csvPath}, {"--html", htmlPath}} {
		if err := checkOutput(o.f, o.p); err != nil {
			return err
		}
	}
	var all []*harness.Report
	seen := map[[3]string]string{}
	for _, p := range fs.Args() {
		rs, err := harness.ReadJSON(p)
		if err != nil {
			return usagef("%s: %v", p, err)
		}
		for _, r := range rs {
			key := [3]string{r.Lab, r.Source, r.Kernel}
			if other, ok := seen[key]; ok {
				return usagef("%s and %s both grade %s of %s on %s: merge each shard once", other, p, r.Source, r.Lab, r.Kernel)
			}
			seen[key] = p
			all = append(all, r)
		}
	}
	labsSeen := map[string]bool{}
	for _, r := range all {
		labsSeen[r.Lab] = true
	}
	if len(labsSeen) > 1 {
		return usagef("the reports are of %d labs: merge one lab's at a time", len(labsSeen))
	}
	printClass(stdout, newClassTable(all))
	return writeClass(all, jsonPath, csvPath, htmlPath)
}
