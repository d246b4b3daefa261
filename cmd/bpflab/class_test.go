package main

import (
	"bytes"
	"encoding/csv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/internal/testvm"
	"github.com/google/go-cmp/cmp"
)

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindClass(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "ada.bpf.c"), "")
	write(t, filepath.Join(dir, "bob", "openat.bpf.c"), "")
	write(t, filepath.Join(dir, "bob", "notes.c"), "")
	write(t, filepath.Join(dir, "cy", "src", "mine.c"), "")
	write(t, filepath.Join(dir, "dee", "README"), "")
	write(t, filepath.Join(dir, "eve", "a.c"), "")
	write(t, filepath.Join(dir, "eve", "b.c"), "")
	write(t, filepath.Join(dir, ".git", "x.c"), "")
	write(t, filepath.Join(dir, "notes.txt"), "")
	got, err := findClass(dir, labs["lab-1"])
	if err != nil {
		t.Fatal(err)
	}
	want := []student{
		{Name: "ada", Src: filepath.Join(dir, "ada.bpf.c")},
		{Name: "bob", Src: filepath.Join(dir, "bob", "openat.bpf.c")},
		{Name: "cy", Src: filepath.Join(dir, "cy", "src", "mine.c")},
		{Name: "dee", Missing: "no C file in " + filepath.Join(dir, "dee")},
		{Name: "eve", Missing: "2 C files in " + filepath.Join(dir, "eve") + " and none named openat.bpf.c: keep one, or name it so"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("class (-want +got):\n%s", diff)
	}

	// Lab 7: a directory per student, with the Go program.
	dir = t.TempDir()
	write(t, filepath.Join(dir, "ada", "who.bpf.c"), "")
	write(t, filepath.Join(dir, "ada", "enrich", "pods.go"), "")
	write(t, filepath.Join(dir, "bob", "who.bpf.c"), "")
	write(t, filepath.Join(dir, "cy.bpf.c"), "")
	got, err = findClass(dir, labs["lab-7"])
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Prog != filepath.Join(dir, "ada", "enrich") || got[0].Missing != "" {
		t.Errorf("ada: %+v", got[0])
	}
	for _, s := range got[1:] {
		if s.Missing == "" {
			t.Errorf("%s has no Go program, and is not missing it: %+v", s.Name, s)
		}
	}

	if _, err := findClass(t.TempDir(), labs["lab-1"]); err == nil || !strings.Contains(err.Error(), "holds no submission") {
		t.Errorf("empty class: %v", err)
	}
	dir = t.TempDir()
	write(t, filepath.Join(dir, "ada.c"), "")
	write(t, filepath.Join(dir, "ada.bpf.c"), "")
	if _, err := findClass(dir, labs["lab-1"]); err == nil || !strings.Contains(err.Error(), `both student "ada"`) {
		t.Errorf("two files of one student: %v", err)
	}
}

// TestShards: N shards grade every student once, in shares that differ by
// at most one.
func TestShards(t *testing.T) {
	var class []student
	for _, n := range strings.Fields("a b c d e f g h i j k") {
		class = append(class, student{Name: n})
	}
	for n := 1; n <= 4; n++ {
		seen := map[string]int{}
		for i := 1; i <= n; i++ {
			sh, err := parseShard(strings.Join([]string{itoa(i), itoa(n)}, "/"))
			if err != nil {
				t.Fatal(err)
			}
			part := sh.of(class)
			if d := len(part) - len(class)/n; d < 0 || d > 1 {
				t.Errorf("shard %d/%d has %d of %d", i, n, len(part), len(class))
			}
			for _, s := range part {
				seen[s.Name]++
			}
		}
		for _, s := range class {
			if seen[s.Name] != 1 {
				t.Errorf("%d shards grade %s %d times", n, s.Name, seen[s.Name])
			}
		}
	}
	for _, bad := range []string{"0/2", "3/2", "1", "a/b", "1/0"} {
		if _, err := parseShard(bad); err == nil {
			t.Errorf("--shard %s accepted", bad)
		}
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func TestSplitJobs(t *testing.T) {
	subs := make([]harness.Compiled, 10)
	for i := range subs {
		subs[i].Label = itoa(i)
	}
	one := []target{{name: "6.12"}}
	two := []target{{name: "6.1"}, {name: "6.12"}}
	for _, tc := range []struct {
		ts       []target
		n, par   int
		wantJobs int
	}{
		{one, 10, 1, 1},
		{one, 10, 2, 2},
		{one, 10, 8, 2}, // at least 4 submissions a guest
		{one, 3, 8, 1},
		{two, 10, 2, 2},
		{two, 10, 4, 4},
	} {
		jobs := splitJobs(tc.ts, subs[:tc.n], tc.par)
		if len(jobs) != tc.wantJobs {
			t.Errorf("%d kernels, %d submissions, %d slots: %d guests, want %d", len(tc.ts), tc.n, tc.par, len(jobs), tc.wantJobs)
		}
		// Each kernel grades every submission once, in order.
		for ti := range tc.ts {
			var got []string
			for _, j := range jobs {
				if j.target == ti {
					for _, s := range j.subs {
						got = append(got, s.Label)
					}
				}
			}
			var want []string
			for _, s := range subs[:tc.n] {
				want = append(want, s.Label)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("kernel %d (-want +got):\n%s", ti, diff)
			}
		}
	}
}

func classReports() []*harness.Report {
	mk := func(student, kernel string, fails ...string) *harness.Report {
		r := &harness.Report{Lab: "lab-1", Kernel: kernel, Source: student, Seed: 3}
		for _, c := range []string{"compile", "passwd-reported", "exact-match"} {
			st := harness.Pass
			for _, f := range fails {
				if f == c {
					st = harness.Fail
				}
			}
			r.Checks = append(r.Checks, harness.Check{Name: c, Status: st, Reason: "why " + c + " <b>", Hint: "look at " + c})
		}
		r.Seal("")
		return r
	}
	return []*harness.Report{
		mk("bob", "6.12", "exact-match"), mk("ada", "6.12"), mk("bob", "5.10", "exact-match", "passwd-reported"), mk("ada", "5.10"),
	}
}

func TestClassOutputs(t *testing.T) {
	tab := newClassTable(classReports())
	if diff := cmp.Diff([]string{"ada", "bob"}, tab.Students); diff != "" {
		t.Error(diff)
	}
	var out bytes.Buffer
	printClass(&out, tab)
	for _, w := range []string{"ada      PASS", "FAIL passwd-reported,exact-match", "1 of 2 students pass on every kernel graded (5.10, 6.12)"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, out.String())
		}
	}

	out.Reset()
	if err := writeCSV(&out, tab); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || rows[0][0] != "student" || rows[0][9] != "compile" {
		t.Fatalf("csv: %q", rows)
	}
	if got := rows[3]; got[0] != "bob" || got[1] != "5.10" || got[2] != "FAIL" || got[6] != "passwd-reported;exact-match" || got[10] != "FAIL" {
		t.Errorf("bob on 5.10: %q", got)
	}

	out.Reset()
	if err := writeHTML(&out, tab); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	for _, w := range []string{
		"<title>bpflab: lab-1, 2 students</title>",
		`class="fail" title="why exact-match &lt;b&gt;`, // escaped
		"2 of 4", // exact-match failed for bob on both kernels
		"2× look at exact-match",
	} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if strings.Contains(page, "<b>") {
		t.Error("a reason reached the page unescaped")
	}
}

// TestReportMerge: shards' JSON merge into one class, and a student graded
// twice is refused.
func TestReportMerge(t *testing.T) {
	dir := t.TempDir()
	rs := classReports()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	if err := harness.WriteJSON(a, rs[:2]); err != nil {
		t.Fatal(err)
	}
	if err := harness.WriteJSON(b, rs[2:]); err != nil {
		t.Fatal(err)
	}
	all, csvPath, htmlPath := filepath.Join(dir, "all.json"), filepath.Join(dir, "all.csv"), filepath.Join(dir, "all.html")
	var out bytes.Buffer
	if err := cmdReport([]string{"merge", "--json", all, "--csv", csvPath, "--html", htmlPath, a, b}, &out); err != nil {
		t.Fatal(err)
	}
	merged, err := harness.ReadJSON(all)
	if err != nil || len(merged) != 4 {
		t.Fatalf("merged %d reports, %v", len(merged), err)
	}
	for _, p := range []string{csvPath, htmlPath} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
	if err := cmdReport([]string{"merge", a, a}, &out); err == nil || !strings.Contains(err.Error(), "merge each shard once") {
		t.Errorf("a shard twice: %v", err)
	}
}

// TestGradeClass grades a class in one guest: a student with the
// solution, one with the starter, one whose file does not compile and one
// with nothing to grade.
func TestGradeClass(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a guest: go test ./cmd/bpflab without -short")
	}
	k := testvm.Default(t)
	bin := testvm.Binary(t)
	root := testvm.ModuleRoot()
	class := t.TempDir()
	sol, _ := os.ReadFile(filepath.Join(root, "labs/lab-1/solution/openat.bpf.c"))
	starter, _ := os.ReadFile(filepath.Join(root, "labs/lab-1/openat.bpf.c"))
	write(t, filepath.Join(class, "ada", "openat.bpf.c"), string(sol))
	write(t, filepath.Join(class, "bob.bpf.c"), string(starter))
	write(t, filepath.Join(class, "cy", "openat.bpf.c"), "int x = ;\n")
	write(t, filepath.Join(class, "dee", "notes.txt"), "")
	out := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = root
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bpflab %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	whole := run("grade", "lab-1", "--kernel", k.Alias, "--accel", "tcg", "--submissions", class,
		"--json", filepath.Join(out, "class.json"), "--csv", filepath.Join(out, "class.csv"), "--html", filepath.Join(out, "class.html"))
	for _, w := range []string{"ada      PASS", "bob      FAIL passwd-reported,react-kill", "cy       FAIL compile", "dee      FAIL compile", "1 of 4 students pass"} {
		if !strings.Contains(whole, w) {
			t.Errorf("class table lacks %q:\n%s", w, whole)
		}
	}
	// The files it was asked for: shards and their merging are proved on
	// the host (TestShards, TestReportMerge).
	rs, err := harness.ReadJSON(filepath.Join(out, "class.json"))
	if err != nil || len(rs) != 4 {
		t.Fatalf("class.json: %d reports, %v", len(rs), err)
	}
	for _, f := range []string{"class.csv", "class.html"} {
		if b, err := os.ReadFile(filepath.Join(out, f)); err != nil || !strings.Contains(string(b), "ada") {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestDoctorNamesFixes: on a machine without the tools, doctor fails with
// a fix on every line that is not OK.
func TestDoctorNamesFixes(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var out bytes.Buffer
	err := cmdDoctor(t.Context(), nil, &out, &out)
	if code := exitCode(err, false, io.Discard); code != 1 {
		t.Errorf("exit %d (%v), want 1", code, err)
	}
	lines := strings.Split(out.String(), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "FAIL") || strings.HasPrefix(l, "WARN") {
			if i+1 >= len(lines) || !strings.Contains(lines[i+1], "fix: ") {
				t.Errorf("no fix after %q", l)
			}
		}
	}
	for _, w := range []string{"FAIL  clang", "sudo apt-get install --no-install-recommends clang", "FAIL  qemu-system-x86_64"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("doctor output lacks %q:\n%s", w, out.String())
		}
	}
}

// TestProgress: grades of the student's files are kept, the latest per
// lab, file and kernel, with when each first passed; the solution's are
// not the student's.
func TestProgress(t *testing.T) {
	root := t.TempDir()
	rs := classReports() // bob fails, ada passes, on 5.10 and 6.12
	rs = append(rs, &harness.Report{Lab: "lab-1", Kernel: "6.12", Source: "solution", Verdict: "PASS"})
	if err := recordProgress(root, rs); err != nil {
		t.Fatal(err)
	}
	later := *rs[0] // bob on 6.12, now passing
	later.Checks = []harness.Check{{Name: "compile", Status: harness.Pass}}
	later.Seal("")
	if err := recordProgress(root, []*harness.Report{&later}); err != nil {
		t.Fatal(err)
	}
	p, err := readProgress(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Grades) != 4 {
		t.Fatalf("%d grades kept, want 4 (2 files × 2 kernels): %+v", len(p.Grades), p.Grades)
	}
	for _, e := range p.Grades {
		if e.Source == "bob" && e.Kernel == "6.12" && (e.Verdict != "PASS" || e.FirstPass.IsZero()) {
			t.Errorf("bob on 6.12: %+v", e)
		}
		if e.Source == "bob" && e.Kernel == "5.10" && !e.FirstPass.IsZero() {
			t.Errorf("bob never passed on 5.10: %+v", e)
		}
	}
}

// TestClassPageInChromium loads the class page in headless Chromium
// (where it is installed: Debian's chromium package) and reads back the
// page as the browser built it: every student's row, every cell with its
// reason, the summary.
func TestClassPageInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("no chromium: apt-get install --no-install-recommends chromium to run this test")
	}
	page := filepath.Join(t.TempDir(), "class.html")
	var b bytes.Buffer
	if err := writeHTML(&b, newClassTable(classReports())); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+page)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	// 2 header rows and 2 students in the grid, a header and 3 checks in
	// the summary.
	if n := strings.Count(dom, "<tr>"); n != 2+2+1+3 {
		t.Errorf("%d rows in the page as chromium built it, want 8:\n%s", n, dom)
	}
	// 2 students × 2 kernels × (3 checks + the grade): each with a reason.
	if n := strings.Count(dom, `title="`); n != 16 {
		t.Errorf("%d cells with a reason, want 16", n)
	}
	if !strings.Contains(dom, "2× look at exact-match") {
		t.Errorf("no summary of exact-match's failures:\n%s", dom)
	}
}
