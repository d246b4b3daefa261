package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpflab/bpflab/harness"
	"github.com/bpflab/bpflab/vmtest"
)

// busyboxPath is where Debian's busybox-static installs busybox.
const busyboxPath = "/bin/busybox"

func cmdShell(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shell", flag.ContinueOnError)
	var vf vmFlags
	vf.register(fs)
	if err := vf.parse(fs, args, stdout); err != nil {
		return err
	}
	log := newLogger(stderr, vf.verbose)
	store, ts, err := vf.targets(log, stderr, liveOn(stderr, vf.verbose))
	if err != nil {
		return err
	}
	if len(ts) != 1 || ts[0].host {
		return usagef("shell opens one guest: pass one kernel, not %q", vf.kernel)
	}
	t := ts[0]
	if err := fetchTarget(ctx, store, &t); err != nil {
		return err
	}
	if _, err := os.Stat(busyboxPath); err != nil {
		return fmt.Errorf("%s is missing: install busybox-static (scripts/deps.sh does)", busyboxPath)
	}
	tmp, err := os.MkdirTemp("", "bpflab-shell-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	job := vmtest.Job{
		Dir:         "/root",
		Env:         append(guestEnv(vf.env), "PS1=bpflab("+t.name+"):\\w# "),
		Executables: []string{busyboxPath},
		Symlinks:    busyboxApplets(),
		Files:       map[string]string{},
	}
	// bpftool, and binutils' readelf and nm to find uprobe offsets and
	// USDT notes by hand (labs 3 and 4), where the host has them.
	for _, tool := range []string{"bpftool", "readelf", "nm"} {
		if p, err := exec.LookPath(tool); err == nil {
			job.Executables = append(job.Executables, p)
			job.Symlinks["/usr/local/bin/"+tool] = p
		}
	}
	objs := compileLabObjects(ctx, tmp, log.Named("shell"))
	for guest, host := range buildLabPrograms(ctx, tmp, log.Named("shell")) {
		objs[guest] = host
	}
	for guest, host := range objs {
		job.Files[guest] = host
	}
	profile := filepath.Join(tmp, "profile")
	if err := os.WriteFile(profile, []byte(shellProfile(t.name, objs)), 0o644); err != nil {
		return err
	}
	job.Files["/etc/profile"] = profile

	cfg := vf.config(log, stdout, stderr)
	cfg.Kernel = t.path
	cmdline := fs.Args()
	if len(cmdline) == 0 {
		job.Args = []string{busyboxPath, "sh", "-l"}
		cfg.Interactive = true
		// The guest's terminal learns the size of this one.
		if ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			job.Env = append(job.Env, fmt.Sprintf("COLUMNS=%d", ws.Col), fmt.Sprintf("LINES=%d", ws.Row))
		}
		if vf.runTimeout == 0 {
			cfg.RunTimeout = 24 * time.Hour
		}
		fmt.Fprintf(stderr, "bpflab: booting %s; 'exit' or Ctrl-D leaves the guest\n", t.name)
	} else {
		script := cmdline[0]
		if len(cmdline) > 1 {
			script = shellQuote(cmdline)
		}
		job.Args = []string{busyboxPath, "sh", "-c", ". /etc/profile >/dev/null; " + script}
	}
	res, err := vmtest.Run(ctx, cfg, job)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		reportFailure(stderr, err, t, reproCommand(&vf, t, job.Args, res))
		return exitError{failureCode(err)}
	}
	if code := res.Status.ShellCode(); code != 0 {
		return exitError{code}
	}
	return nil
}

// busyboxApplets links every applet busybox has into /bin and /sbin.
func busyboxApplets() map[string]string {
	links := map[string]string{}
	out, err := exec.Command(busyboxPath, "--list-full").Output()
	if err != nil {
		return links
	}
	for _, p := range strings.Fields(string(out)) {
		links["/"+strings.TrimPrefix(p, "/")] = busyboxPath
	}
	return links
}

// compileLabObjects builds each lab's student file into /root/labs, so
// the shell has them at hand for bpftool. A file that does not compile is
// left out with a note.
func compileLabObjects(ctx context.Context, dir string, log interface {
	Warn(string, ...any)
}) map[string]string {
	objs := map[string]string{}
	root, err := sourceRoot()
	if err != nil {
		return objs
	}
	for id, lab := range labs {
		obj := filepath.Join(dir, id+".bpf.o")
		if err := harness.Compile(ctx, filepath.Join(root, lab.Dir, lab.Source), obj, lab.Includes(root)); err != nil {
			log.Warn("not in the guest: it does not compile", "lab", id)
			continue
		}
		objs["/root/labs/"+id+".bpf.o"] = obj
	}
	return objs
}

// buildLabPrograms builds the programs of the labs that have their own
// (lab 3's pinlock, lab 4's orders) into /root/labs/LAB/, for probing by
// hand. A lab whose programs do not build is left out with a note.
func buildLabPrograms(ctx context.Context, dir string, log interface {
	Warn(string, ...any)
}) map[string]string {
	out := map[string]string{}
	root, err := sourceRoot()
	if err != nil {
		return out
	}
	for id, lab := range labs {
		if lab.Build == nil && lab.Trigger == "" {
			continue
		}
		d := filepath.Join(dir, id)
		if err := os.Mkdir(d, 0o755); err != nil {
			continue
		}
		if err := lab.BuildFiles(ctx, root, d); err != nil {
			log.Warn("not in the guest: its programs do not build", "lab", id, "error", err)
			continue
		}
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			out["/root/labs/"+id+"/"+e.Name()] = filepath.Join(d, e.Name())
		}
	}
	return out
}

func shellProfile(kernel string, objs map[string]string) string {
	var names []string
	for g := range objs {
		names = append(names, g)
	}
	sort.Strings(names)
	return fmt.Sprintf(`# bpflab guest shell
export PS1='bpflab(%s):\w# '
[ -n "$COLUMNS" ] && [ -t 0 ] && stty cols "$COLUMNS" rows "$LINES" 2>/dev/null
cat <<'MOTD'
bpflab guest, kernel %s. Things to try:
  cat /sys/kernel/tracing/events/syscalls/sys_enter_openat/format
  echo 1 > /sys/kernel/tracing/events/syscalls/sys_enter_openat/enable; cat /sys/kernel/tracing/trace_pipe
  grep -w do_unlinkat /proc/kallsyms
  bpftool prog loadall /root/labs/lab-1.bpf.o /sys/fs/bpf/lab1; bpftool prog show
  nm /root/labs/lab-3/pinlock | grep check_pin; readelf -n /root/labs/lab-4/orders
Lab objects and programs: %s
MOTD
`, kernel, kernel, strings.Join(names, " "))
}
