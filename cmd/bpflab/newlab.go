package main

import (
	"bytes"
	"embed"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"
)

//go:embed newlab/*.tmpl
var newLabFiles embed.FS

// newLab is what the templates of 'bpflab new-lab' are filled with.
type newLab struct {
	ID, Pkg, Upper, Header, Title, Target string
}

var labName = regexp.MustCompile(`^lab-[a-z0-9]+$`)

// cmdNewLab is 'bpflab new-lab NAME': a lab that builds, whose solution
// passes and whose starter fails, to change into a lab of one's own.
func cmdNewLab(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("new-lab", flag.ContinueOnError)
	title := fs.String("title", "TODO: the lab's title", "the lab's title")
	id := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	if !labName.MatchString(id) {
		return usagef("new-lab needs a name like lab-8 (lab- and lower-case letters or digits), got %q", id)
	}
	root, err := sourceRoot()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, "labs", id)
	if _, err := os.Stat(dir); err == nil {
		return usagef("%s exists: choose another name", dir)
	}
	pkg := strings.ReplaceAll(id, "-", "")
	v := newLab{ID: id, Pkg: pkg, Upper: strings.ToUpper(pkg), Header: pkg + ".h", Title: *title, Target: "/etc/hostname"}
	files := map[string]string{
		"README.md":           "README.md.tmpl",
		"lab.go":              "lab.go.tmpl",
		"ops.go":              "ops.go.tmpl",
		"trigger.c":           "trigger.c.tmpl",
		"lab_test.go":         "lab_test.go.tmpl",
		v.Header:              "header.h.tmpl",
		"prog.bpf.c":          "starter.bpf.c.tmpl",
		"solution/prog.bpf.c": "solution.bpf.c.tmpl",
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := render(files[n], v)
		if err != nil {
			return err
		}
		if strings.HasSuffix(n, ".go") {
			if b, err = format.Source(b); err != nil {
				return fmt.Errorf("the template of %s: %w", n, err)
			}
		}
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	if err := registerLab(filepath.Join(root, "labs", "all", "all.go"), id); err != nil {
		return err
	}
	if err := indexLab(filepath.Join(root, "README.md"), v); err != nil {
		return err
	}
	fmt.Fprintf(stdout, `made labs/%s: README.md, prog.bpf.c (the starter), solution/, %s, lab.go (loader and grader), ops.go, lab_test.go
registered it in labs/all/all.go and README.md's lab index

  make %s SOLUTION=1                                  # passes
  make %s                                             # the starter fails target-reported
  BPFLAB_REQUIRE_VM=1 go test ./labs/%s/              # both, on every kernel

Then make it your lab: docs/authoring-labs.md.
`, id, v.Header, id, id, id)
	return nil
}

func render(name string, v newLab) ([]byte, error) {
	t, err := template.ParseFS(newLabFiles, "newlab/"+name)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// registerLab adds the lab's import to labs/all/all.go, in order.
func registerLab(path, id string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	line := fmt.Sprintf("\t_ \"github.com/bpflab/bpflab/labs/%s\"\n", id)
	s := string(b)
	start := strings.Index(s, "import (\n")
	end := strings.Index(s[start:], ")\n")
	if start < 0 || end < 0 {
		return errors.New(path + " has no import block")
	}
	end += start
	lines := strings.SplitAfter(s[start+len("import (\n"):end], "\n")
	var keep []string
	for _, l := range lines {
		if l != "" {
			keep = append(keep, l)
		}
	}
	keep = append(keep, line)
	sort.Strings(keep)
	return os.WriteFile(path, []byte(s[:start]+"import (\n"+strings.Join(keep, "")+s[end:]), 0o644)
}

// indexLab adds the lab's row to README.md's lab index, after the last.
func indexLab(path string, v newLab) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	lines := strings.SplitAfter(string(b), "\n")
	last := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "| [`lab-") {
			last = i
		}
	}
	if last < 0 {
		return errors.New(path + " has no lab index")
	}
	row := fmt.Sprintf("| [`%s`](labs/%s/README.md) | tracepoint `syscalls/sys_enter_openat` | TODO: what the lab teaches | beginner | 5.10 and later |\n", v.ID, v.ID)
	out := append(append(append([]string{}, lines[:last+1]...), row), lines[last+1:]...)
	return os.WriteFile(path, []byte(strings.Join(out, "")), 0o644)
}
