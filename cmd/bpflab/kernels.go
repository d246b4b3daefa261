package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/bpflab/bpflab/vmtest/kernels"
	"github.com/hashicorp/go-hclog"
)

// open loads the lock and opens the cache the flags name.
func (s *storeFlags) open(log hclog.Logger) (*kernels.Store, error) {
	l, err := kernels.LoadLock(s.lock)
	if err != nil {
		return nil, usagef("reading the kernel lock: %w", err)
	}
	return &kernels.Store{Dir: s.cache, Lock: l, Log: log.Named("kernels")}, nil
}

// target is one kernel to boot: from the matrix, a path, or the host itself.
type target struct {
	name   string
	path   string
	host   bool
	kernel *kernels.Kernel
}

// resolveTargets turns a --kernel value into targets: "" for the default,
// an alias or version prefix, "all", "host", or a path to an image.
func resolveTargets(store *kernels.Store, spec string) ([]target, error) {
	switch {
	case spec == "":
		spec = store.Lock.Default
	case spec == "host":
		return []target{{name: "host", host: true}}, nil
	case spec == "all":
		var out []target
		for _, k := range store.Lock.Kernels {
			k := k
			out = append(out, target{name: k.Alias, kernel: &k})
		}
		return out, nil
	}
	var out []target
	for _, one := range strings.Split(spec, ",") {
		if strings.ContainsRune(one, '/') || fileExists(one) {
			abs, err := filepath.Abs(one)
			if err != nil {
				return nil, err
			}
			if !fileExists(abs) {
				return nil, kernelf("kernel image %s does not exist: pass an existing vmlinuz, or an alias (%s)", one, strings.Join(store.Lock.Aliases(), ", "))
			}
			out = append(out, target{name: filepath.Base(one), path: abs})
			continue
		}
		k, err := store.Lock.Find(one)
		if err != nil {
			return nil, usagef("%w", err)
		}
		out = append(out, target{name: k.Alias, kernel: &k})
	}
	return out, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// targets opens the kernel store and resolves --kernel; fetches report
// their downloads to w (see [downloadProgress]).
func (v *vmFlags) targets(log hclog.Logger, w io.Writer, live bool) (*kernels.Store, []target, error) {
	store, err := v.open(log)
	if err != nil {
		return nil, nil, err
	}
	store.OnProgress = downloadProgress(w, live)
	ts, err := resolveTargets(store, v.kernel)
	if err != nil {
		return nil, nil, err
	}
	return store, ts, nil
}

// fetchAll makes sure every target's image is on disk.
func fetchAll(ctx context.Context, store *kernels.Store, ts []target) error {
	for i := range ts {
		if err := fetchTarget(ctx, store, &ts[i]); err != nil {
			return err
		}
	}
	return nil
}

// fetchTarget makes sure the target's image is on disk.
func fetchTarget(ctx context.Context, store *kernels.Store, t *target) error {
	if t.host || t.path != "" {
		return nil
	}
	p, err := store.Fetch(ctx, *t.kernel)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	t.path = p
	return nil
}

func cmdKernels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("kernels needs a subcommand: fetch, list or update")
	}
	name := "kernels " + args[0]
	if isHelpFlag(args[0]) {
		name = "kernels"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var vf vmFlags
	vf.registerStore(fs)
	sf := &vf.storeFlags
	verbose := fs.Bool("v", false, "verbose")
	if name == "kernels" {
		printHelp(stdout, fs)
		return flag.ErrHelp
	}
	if err := parseFlags(fs, args[1:], stdout); err != nil {
		return err
	}
	log := newLogger(stderr, *verbose)
	store, err := sf.open(log)
	if err != nil {
		return err
	}
	store.OnProgress = downloadProgress(stderr, liveOn(stderr, *verbose))
	switch args[0] {
	case "fetch":
		spec := "all"
		if fs.NArg() > 0 {
			spec = strings.Join(fs.Args(), ",")
		}
		ts, err := resolveTargets(store, spec)
		if err != nil {
			return err
		}
		if err := fetchAll(ctx, store, ts); err != nil {
			return err
		}
		return listKernels(store, stdout)
	case "list":
		return listKernels(store, stdout)
	case "update":
		return updateKernels(ctx, store, sf.lock, stdout)
	}
	return usagef("unknown kernels subcommand %q: use fetch, list or update", args[0])
}

func listKernels(store *kernels.Store, w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ALIAS\tVERSION\tSUITE\tPACKAGE\tCACHED")
	for _, k := range store.Lock.Kernels {
		cached := "no (bpflab kernels fetch " + k.Alias + ")"
		if p, ok := store.Cached(k); ok {
			fi, _ := os.Stat(p)
			cached = fmt.Sprintf("%.1f MiB %s", float64(fi.Size())/(1<<20), p)
		}
		alias := k.Alias
		if k.Alias == store.Lock.Default {
			alias += " (default)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", alias, k.Version, k.Suite, k.Package, cached)
	}
	return tw.Flush()
}

func updateKernels(ctx context.Context, store *kernels.Store, lockPath string, w io.Writer) error {
	if lockPath == "" {
		lockPath = filepath.Join("vmtest", "kernels", "kernels.lock")
		if !fileExists(lockPath) {
			return usagef("no lock file to rewrite: run from the bpflab source tree or pass --lock FILE")
		}
	}
	nl, changes, err := store.Update(ctx)
	if err != nil {
		return fmt.Errorf("updating the kernel lock: %w", err)
	}
	if len(changes) == 0 {
		fmt.Fprintln(w, "every kernel is pinned to the newest build the archive serves")
		return nil
	}
	tmp := lockPath + ".new"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := nl.Format(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, lockPath); err != nil {
		return err
	}
	for _, c := range changes {
		fmt.Fprintf(w, "%s: %s -> %s\n", c.Alias, c.From, c.To)
	}
	fmt.Fprintf(w, "wrote %s; rebuild bpflab to embed it\n", lockPath)
	return nil
}
