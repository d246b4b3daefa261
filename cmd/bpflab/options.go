package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bpflab/bpflab/vmtest"
	"github.com/bpflab/bpflab/vmtest/kernels"
	"github.com/hashicorp/go-hclog"
)

// The options of the commands that boot a guest (exec, run, grade, shell)
// are defined once, in vmOptions: each option's flag, built-in default,
// environment variable, and whether bpflab.conf may set it. The same table
// registers the flags and writes them back into a command line
// (vmFlags.flagArgs), for the command 'bpflab run' gives 'go test -exec'
// and for the commands that reproduce a failure.

// storeFlags are the flags that locate the matrix and the cache.
type storeFlags struct {
	lock  string
	cache string
}

// vmFlags are the options shared by every command that boots a guest.
type vmFlags struct {
	storeFlags
	kernel      string
	accel       string
	memory      int
	cpus        int
	bootTimeout time.Duration
	runTimeout  time.Duration
	console     bool
	verbose     bool
	env         multiFlag
	qemuArgs    multiFlag
	cmdline     string
	cold        bool
	hostView    bool
}

// multiFlag is a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// option is one flag of vmFlags.
type option struct {
	name  string
	alias string // a second name for the flag, hidden from help
	usage string
	// def is the built-in default: a string, int, bool or time.Duration,
	// as the field is; nil for a repeatable flag, empty by default.
	def any
	// env, if set in the environment, overrides def.
	env string
	// conf: bpflab.conf may set the option.
	conf bool
	// store: 'bpflab kernels' has the flag too.
	store bool
	// field is the option's field in v: a *string, *int, *bool,
	// *time.Duration or *multiFlag.
	field func(v *vmFlags) any
}

// vmOptions is the table of the options. The order is the order in which
// flagArgs writes them.
func vmOptions() []option {
	return []option{
		{name: "kernel", def: "", env: "BPFLAB_KERNEL", conf: true,
			usage: "kernel: an alias (6.1), a version prefix (7.3), all, host, or a path to a vmlinuz (env BPFLAB_KERNEL)",
			field: func(v *vmFlags) any { return &v.kernel }},
		{name: "accel", def: vmtest.DefaultAccel, env: "BPFLAB_ACCEL", conf: true,
			usage: "accelerator: auto (KVM if a boot proves it works, else TCG), kvm or tcg",
			field: func(v *vmFlags) any { return &v.accel }},
		{name: "memory", def: vmtest.DefaultMemoryMiB, conf: true,
			usage: "guest memory in MiB",
			field: func(v *vmFlags) any { return &v.memory }},
		{name: "cpus", def: vmtest.DefaultCPUs, conf: true,
			usage: "guest vCPUs",
			field: func(v *vmFlags) any { return &v.cpus }},
		{name: "boot-timeout", def: vmtest.DefaultBootTimeout, conf: true,
			usage: "deadline for the guest's init to start",
			field: func(v *vmFlags) any { return &v.bootTimeout }},
		{name: "run-timeout", def: time.Duration(0), conf: true,
			usage: fmt.Sprintf("deadline for the program (default %s, or the test's -test.timeout plus 1m)", shortDuration(vmtest.DefaultRunTimeout)),
			field: func(v *vmFlags) any { return &v.runTimeout }},
		{name: "env",
			usage: "`KEY=VALUE` to set in the guest (repeatable)",
			field: func(v *vmFlags) any { return &v.env }},
		{name: "qemu-arg",
			usage: "extra QEMU `argument` (repeatable; for debugging)",
			field: func(v *vmFlags) any { return &v.qemuArgs }},
		{name: "cmdline", def: "",
			usage: "appended to the kernel command line",
			field: func(v *vmFlags) any { return &v.cmdline }},
		{name: "cold", def: false, conf: true,
			usage: "boot the kernel even when a saved guest could be restored (env BPFLAB_COLD=1; see 'bpflab cache')",
			field: func(v *vmFlags) any { return &v.cold }},
		{name: "host-view", def: true, conf: true,
			usage: "show the host's files read-only at their paths in the guest, fetched when read (exec and run; grading never does)",
			field: func(v *vmFlags) any { return &v.hostView }},
		{name: "console", def: false,
			usage: "print the kernel console to stderr",
			field: func(v *vmFlags) any { return &v.console }},
		{name: "v", alias: "verbose", def: false,
			usage: "verbose: debug logs, the QEMU command line, and checks' details in full",
			field: func(v *vmFlags) any { return &v.verbose }},
		{name: "lock", def: "", env: "BPFLAB_LOCK", store: true,
			usage: "kernel lock file (default: the one built in; env BPFLAB_LOCK)",
			field: func(v *vmFlags) any { return &v.lock }},
		{name: "cache-dir", def: kernels.DefaultDir(), store: true,
			usage: "cache for kernels and apt state",
			field: func(v *vmFlags) any { return &v.cache }},
	}
}

// shortDuration writes d without zero trailing units: 10m, not 10m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// register adds every option's flag to fs.
func (v *vmFlags) register(fs *flag.FlagSet) {
	for _, o := range vmOptions() {
		o.register(fs, v)
	}
}

// registerStore adds the flags of the options that locate the matrix and
// the cache, for 'bpflab kernels'.
func (v *vmFlags) registerStore(fs *flag.FlagSet) {
	for _, o := range vmOptions() {
		if o.store {
			o.register(fs, v)
		}
	}
}

func (o option) register(fs *flag.FlagSet, v *vmFlags) {
	o.bind(fs, v, o.name, o.usage)
	if o.alias != "" {
		o.bind(fs, v, o.alias, "same as -"+o.name)
	}
}

func (o option) bind(fs *flag.FlagSet, v *vmFlags, name, usage string) {
	switch p := o.field(v).(type) {
	case *string:
		fs.StringVar(p, name, envOr(o.env, o.def.(string)), usage)
	case *int:
		fs.IntVar(p, name, o.def.(int), usage)
	case *bool:
		fs.BoolVar(p, name, o.def.(bool), usage)
	case *time.Duration:
		fs.DurationVar(p, name, o.def.(time.Duration), usage)
	case *multiFlag:
		fs.Var(p, name, usage)
	default:
		panic(fmt.Sprintf("option %s: field of type %T", o.name, p))
	}
}

// envOr is the environment variable k if it is set, else def.
func envOr(k, def string) string {
	if k != "" {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return def
}

// flagArgs writes v as flags that parse back to the same options: those
// whose values differ from the built-in defaults and, with pin, every
// option bpflab.conf may set, so that the file nearest to where the
// command runs cannot change them.
func (v *vmFlags) flagArgs(pin bool) []string {
	var out []string
	for _, o := range vmOptions() {
		switch p := o.field(v).(type) {
		case *multiFlag:
			for _, e := range *p {
				out = append(out, flagArg(o.name, e)...)
			}
		case *bool:
			switch {
			case *p == o.def.(bool) && !(pin && o.conf):
			case *p:
				out = append(out, flagName(o.name))
			default:
				out = append(out, flagName(o.name)+"=false")
			}
		default:
			if val := valueText(p); val != valueText(o.def) || pin && o.conf {
				out = append(out, flagArg(o.name, val)...)
			}
		}
	}
	return out
}

// flagName is the flag as written on a command line: -v, --memory.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// flagArg is a flag with its value: two arguments, or one with = where the
// value could be taken for a flag or lost.
func flagArg(name, val string) []string {
	if val == "" || strings.HasPrefix(val, "-") {
		return []string{flagName(name) + "=" + val}
	}
	return []string{flagName(name), val}
}

// valueText writes an option's value, or a pointer to it, as its flag's
// String method does.
func valueText(x any) string {
	switch x := x.(type) {
	case string:
		return x
	case *string:
		return *x
	case int:
		return strconv.Itoa(x)
	case *int:
		return strconv.Itoa(*x)
	case time.Duration:
		return x.String()
	case *time.Duration:
		return x.String()
	}
	panic(fmt.Sprintf("option value of type %T", x))
}

// config is the guest configuration the options describe.
func (v *vmFlags) config(log hclog.Logger, stdout, stderr io.Writer) vmtest.Config {
	cfg := vmtest.Config{
		MemoryMiB:   v.memory,
		CPUs:        v.cpus,
		Accel:       v.accel,
		BootTimeout: v.bootTimeout,
		RunTimeout:  v.runTimeout,
		Stdout:      stdout,
		Stderr:      stderr,
		CacheDir:    v.cache,
		QEMUArgs:    v.qemuArgs,
		Cmdline:     v.cmdline,
		Log:         log.Named("vm"),
		Cold:        v.cold || os.Getenv("BPFLAB_COLD") == "1",
		HostView:    v.hostView,
	}
	if v.console {
		cfg.Console = stderr
	}
	return cfg
}
