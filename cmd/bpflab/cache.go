package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/vmtest"
	"github.com/bpflab/bpflab/vmtest/kernels"
)

// cmdCache shows what the cache holds, or with "clean" removes the saved
// guests (warm starts rebuild them on the next run of each kernel) and
// what compiling keeps (rebuilt when next needed).
func cmdCache(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cache", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("cache-dir", kernels.DefaultDir(), "cache for kernels, saved guests and apt state")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bpflab cache [--cache-dir DIR] [clean]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch fs.Arg(0) {
	case "":
		entries := vmtest.WarmEntries(*dir)
		var warm int64
		for _, e := range entries {
			warm += e.Size
		}
		fmt.Fprintf(stdout, "cache %s\n", *dir)
		fmt.Fprintf(stdout, "  %-20s %s\n", "kernels", mib(kernels.DirSize(filepath.Join(*dir, "kernels"))))
		fmt.Fprintf(stdout, "  %-20s %s in %d (bound %s; 'bpflab cache clean' removes them)\n", "saved guests", mib(warm), len(entries), mib(vmtest.DefaultWarmCacheMax))
		fmt.Fprintf(stdout, "  %-20s %s\n", "apt state", mib(kernels.DirSize(filepath.Join(*dir, "apt"))))
		for _, c := range harness.CompileCaches() {
			fmt.Fprintf(stdout, "  %-20s %s in %s (clean removes them too)\n", c.Name, mib(kernels.DirSize(c.Dir)), c.Dir)
		}
		return nil
	case "clean":
		freed, err := vmtest.CleanWarm(*dir)
		if err != nil {
			return fmt.Errorf("removing the saved guests: %w", err)
		}
		fmt.Fprintf(stdout, "removed the saved guests (%s); the next run on each kernel saves one again\n", mib(freed))
		for _, c := range harness.CompileCaches() {
			size := kernels.DirSize(c.Dir)
			if err := os.RemoveAll(c.Dir); err != nil {
				return fmt.Errorf("removing the %s: %w", c.Name, err)
			}
			fmt.Fprintf(stdout, "removed the %s (%s); they are made again when needed\n", c.Name, mib(size))
		}
		return nil
	}
	fs.Usage()
	return usagef("unknown cache command %q", fs.Arg(0))
}
