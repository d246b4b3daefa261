package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/vmtest/kernels"
)

// cmdLabs is 'bpflab labs': the labs, and on which kernels of the matrix
// each grades.
func cmdLabs(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("labs", flag.ContinueOnError)
	var vf vmFlags
	vf.registerStore(fs)
	markdown := fs.Bool("markdown", false, "print the course's index as the Markdown table README.md holds")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	all := harness.Labs()
	if *markdown {
		fmt.Fprint(stdout, harness.IndexMarkdown(all))
		return nil
	}
	store, err := vf.storeFlags.open(newLogger(stderr, false))
	if err != nil {
		return err
	}
	ks := store.Lock.Kernels
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	head := []string{"LAB", "LEVEL"}
	for _, k := range ks {
		head = append(head, k.Alias)
	}
	fmt.Fprintln(tw, strings.Join(append(head, "TITLE"), "\t"))
	for _, l := range all {
		row := []string{l.ID, l.Level}
		for _, k := range ks {
			row = append(row, labOn(l, k, store))
		}
		fmt.Fprintln(tw, strings.Join(append(row, l.Title), "\t"))
	}
	tw.Flush()
	fmt.Fprintln(stdout, "\nWhat each lab needs (the kernel check probes the kernel's features before grading):")
	for _, l := range all {
		var fs []string
		for _, f := range l.Features {
			fs = append(fs, f.Name+" ("+f.Since+"+)")
		}
		fmt.Fprintf(stdout, "  %s: kernel %s+; %s\n", l.ID, l.MinKernel, strings.Join(fs, ", "))
		if len(l.Needs) > 0 {
			fmt.Fprintf(stdout, "  %s  and %s\n", strings.Repeat(" ", len(l.ID)), strings.Join(l.Needs, "; "))
		}
	}
	fmt.Fprintln(stdout, "\nruns: grades on that kernel; fetch: grades once 'bpflab kernels fetch ALIAS' has it (make lab-N fetches it too)")
	return nil
}

// labOn says whether lab l grades on kernel k.
func labOn(l *harness.Lab, k kernels.Kernel, store *kernels.Store) string {
	if m := l.Missing(k.Version); len(m) > 0 {
		return "skip: needs " + strings.Join(m, ", ")
	}
	if _, ok := store.Cached(k); !ok {
		return "fetch"
	}
	return "runs"
}
