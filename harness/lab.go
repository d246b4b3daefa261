package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
)

// Lab is one graded exercise.
type Lab struct {
	// ID is what users type: lab-1.
	ID    string
	Title string
	// Dir is the lab's directory relative to the source tree's root.
	Dir string
	// Source is the student's file in Dir; Solution the reference, in Dir.
	Source, Solution string
	// Wants are the programs the object must have.
	Wants []ProgramWant
	// Run attaches the loaded programs, triggers and checks. It is called
	// only when the object loaded.
	Run func(ctx context.Context, g *G)
}

// Includes are the include directories for compiling this lab's C files.
func (l *Lab) Includes(root string) []string {
	return []string{filepath.Join(root, l.Dir), filepath.Join(root, "bpf")}
}

// G is the state of grading one submission.
type G struct {
	Loaded *Loaded
	Report *Report
}

// Pass records a passed check.
func (g *G) Pass(name, reason string) {
	g.Report.Add(Check{Name: name, Status: Pass, Reason: reason})
}

// Fail records a failed check.
func (g *G) Fail(name, reason, hint, detail string) {
	g.Report.Add(Check{Name: name, Status: Fail, Reason: reason, Hint: hint, Detail: detail})
}

// Skip records a check this kernel cannot run, with the reason.
func (g *G) Skip(name, reason string) {
	g.Report.Add(Check{Name: name, Status: Skip, Reason: reason})
}

// Comm returns a process name no other process has: the prefix and a
// random number, at most 15 bytes.
func Comm(prefix string) string {
	c := fmt.Sprintf("%s%06d", prefix, rand.IntN(1000000))
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}

// GradeObject loads the compiled object and runs the lab's checks on this
// kernel. It is what runs in the guest.
func GradeObject(ctx context.Context, lab *Lab, obj, kernel, source string) *Report {
	r := &Report{Lab: lab.ID, Kernel: kernel, Source: source}
	r.Add(Check{Name: "compile", Status: Pass, Reason: "clang built the object"})
	spec, chosen, checks := LoadSpec(obj, lab.Wants)
	r.Checks = append(r.Checks, checks...)
	if spec == nil {
		return r
	}
	loaded, c := Load(spec, chosen)
	r.Add(c)
	if loaded == nil {
		return r
	}
	defer loaded.Close()
	lab.Run(ctx, &G{Loaded: loaded, Report: r})
	return r
}
