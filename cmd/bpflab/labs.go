package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
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
	var needs []string
	for _, l := range all {
		if len(l.Needs) > 0 {
			needs = append(needs, fmt.Sprintf("  %s: %s", l.ID, strings.Join(l.Needs, "; ")))
		}
	}
	if len(needs) > 0 {
		fmt.Fprintf(stdout, "\nBesides the kernel version, labs need:\n%s\n", strings.Join(needs, "\n"))
	}
	fmt.Fprintln(stdout, "\nruns: grades on that kernel; fetch: grades once 'bpflab kernels fetch ALIAS' has it (make lab-N fetches it too)")
	return nil
}

// labOn says whether lab l grades on kernel k.
func labOn(l *harness.Lab, k kernels.Kernel, store *kernels.Store) string {
	if l.MinKernel != "" && versionLess(k.Version, l.MinKernel) {
		return "skip: needs " + l.MinKernel + "+"
	}
	if _, ok := store.Cached(k); !ok {
		return "fetch"
	}
	return "runs"
}

// versionLess compares the major and minor numbers of two kernel
// versions ("6.1.176-1" and "5.10").
func versionLess(a, b string) bool {
	pa, pb := majorMinor(a), majorMinor(b)
	return pa[0] < pb[0] || pa[0] == pb[0] && pa[1] < pb[1]
}

func majorMinor(v string) [2]int {
	var out [2]int
	for i, f := range strings.SplitN(strings.FieldsFunc(v, func(r rune) bool { return r == '-' || r == '+' || r == '~' })[0], ".", 3) {
		if i < 2 {
			out[i], _ = strconv.Atoi(f)
		}
	}
	return out
}
