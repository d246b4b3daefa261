package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/bpflab/bpflab/harness"
)

// A class is what 'bpflab grade LAB --submissions DIR' grades: one
// submission per student, found in DIR.

// student is one student's submission: the C file and, for a lab with a
// Go program, its directory. Missing says why there is nothing to grade.
type student struct {
	Name    string
	Src     string
	Prog    string
	Missing string
}

// findClass lists the students of dir, in name order: each C file in it
// is a student's (named after the file, without .bpf.c or .c), and so is
// each directory, which holds the lab's file (by the starter's name, or
// the only C file there) and, for a lab with a Go program, the program's
// directory (by the starter's name). Hidden entries are skipped.
func findClass(dir string, lab *harness.Lab) ([]student, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, usagef("--submissions %s: %v", dir, err)
	}
	var out []student
	seen := map[string]string{}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(dir, name)
		var s student
		switch {
		case e.IsDir():
			s = studentDir(p, name, lab)
		case e.Type().IsRegular() && strings.HasSuffix(name, ".c"):
			s = student{Name: strings.TrimSuffix(strings.TrimSuffix(name, ".c"), ".bpf"), Src: p}
			if lab.Prog != "" {
				s.Missing = "a lab with a Go program needs a directory per student (the C file and " + filepath.Base(lab.Prog) + "/)"
			}
		default:
			continue
		}
		if other, ok := seen[s.Name]; ok {
			return nil, usagef("--submissions %s: %s and %s are both student %q: keep one", dir, other, name, s.Name)
		}
		seen[s.Name] = name
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, usagef("--submissions %s holds no submission: put a C file, or a directory with %s, per student", dir, filepath.Base(lab.Source))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// studentDir is the submission in a student's directory.
func studentDir(dir, name string, lab *harness.Lab) student {
	s := student{Name: name}
	want := filepath.Join(dir, filepath.Base(lab.Source))
	if fi, err := os.Stat(want); err == nil && fi.Mode().IsRegular() {
		s.Src = want
	} else {
		var cs []string
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, ".c") {
				cs = append(cs, p)
			}
			return nil
		})
		switch len(cs) {
		case 0:
			s.Missing = "no C file in " + dir
			return s
		case 1:
			s.Src = cs[0]
		default:
			s.Missing = fmt.Sprintf("%d C files in %s and none named %s: keep one, or name it so", len(cs), dir, filepath.Base(lab.Source))
			return s
		}
	}
	if lab.Prog != "" {
		p := filepath.Join(dir, filepath.Base(lab.Prog))
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			s.Missing = fmt.Sprintf("no Go program in %s (the directory %s/)", dir, filepath.Base(lab.Prog))
			return s
		}
		s.Prog = p
	}
	return s
}

// shard is --shard I/N: the students whose place in name order is I
// modulo N (1-based), so N jobs grade a class between them, each student
// once.
type shard struct{ I, N int }

func parseShard(s string) (shard, error) {
	if s == "" {
		return shard{1, 1}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return shard{}, usagef("--shard %q: want I/N with 1 <= I <= N, such as 2/4", s)
	}
	return shard{i, n}, nil
}

func (sh shard) of(all []student) []student {
	var out []student
	for k, s := range all {
		if k%sh.N == sh.I-1 {
			out = append(out, s)
		}
	}
	return out
}

// missingReport is the report of a student with nothing to grade.
func missingReport(lab *harness.Lab, s student, kernel string) *harness.Report {
	r := &harness.Report{Lab: lab.ID, Kernel: kernel, Source: s.Name, Checks: []harness.Check{{
		Name: "compile", Status: harness.Fail, Reason: s.Missing,
		Hint: "see 'bpflab grade -h' for how --submissions finds each student's files",
	}}}
	r.Seal("")
	return r
}
