package vmtest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// KernelCmdline is the kernel command line of every guest. panic=-1 turns
// a panic into a reset, which -no-reboot turns into QEMU exiting, so a panic
// never waits for a deadline. bpf is in the LSM list so BPF LSM programs
// attach.
const KernelCmdline = "console=ttyS0 loglevel=4 quiet panic=-1 random.trust_cpu=on " +
	"mitigations=off rdinit=/init lsm=lockdown,capability,landlock,yama,bpf"

// qemuArgs is QEMU's command line for one boot. The console and the host
// channel are the two serial ports, written to the inherited descriptors
// consoleFD and dataFD.
func qemuArgs(cfg *Config, accel, initrd string, consoleFD, dataFD int) []string {
	cpu := "max"
	if accel == "kvm" {
		cpu = "host"
	}
	console := fmt.Sprintf("file,id=console,path=/proc/self/fd/%d", consoleFD)
	if cfg.Interactive {
		// The console is the user's terminal; Ctrl-C goes to the guest.
		console = "stdio,id=console,signal=off"
	}
	cmdline := kernelCmdline(cfg)
	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-machine", "pc,accel=" + accel,
		"-cpu", cpu,
		"-m", fmt.Sprint(cfg.MemoryMiB),
		"-smp", fmt.Sprint(cfg.CPUs),
		"-kernel", cfg.Kernel,
		"-initrd", initrd,
		"-append", cmdline,
		"-chardev", console,
		"-serial", "chardev:console",
		"-chardev", fmt.Sprintf("file,id=host,path=/proc/self/fd/%d", dataFD),
		"-serial", "chardev:host",
	}
	return append(args, cfg.QEMUArgs...)
}

// kernelCmdline is the guest kernel's whole command line.
func kernelCmdline(cfg *Config) string {
	cmdline := KernelCmdline
	if cfg.Interactive {
		cmdline = strings.Replace(cmdline, "loglevel=4", "loglevel=1", 1)
	}
	if cfg.Cmdline != "" {
		cmdline += " " + cfg.Cmdline
	}
	return cmdline
}

// consoleTail keeps the last lines of the kernel console and notices the
// messages that classify a failure.
type consoleTail struct {
	mu    sync.Mutex
	lines []string
	max   int
	panic bool
	oom   bool
	// panicLine is the kernel's own reason, "Kernel panic - not syncing: ...".
	panicLine string
	// panicked is closed when the first panic line arrives.
	panicked chan struct{}
}

func newConsoleTail(max int) *consoleTail {
	return &consoleTail{max: max, panicked: make(chan struct{})}
}

// consume reads the console until EOF, copying it to live if not nil.
func (c *consoleTail) consume(r io.Reader, live io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if live != nil {
			fmt.Fprintln(live, line)
		}
		c.add(line)
	}
}

func (c *consoleTail) add(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := strings.Index(line, "Kernel panic - not syncing"); i >= 0 && !c.panic {
		c.panic = true
		c.panicLine = strings.TrimSpace(line[i:])
		close(c.panicked)
	}
	if strings.Contains(line, "Out of memory: Kill") || strings.Contains(line, "invoked oom-killer") {
		c.oom = true
	}
	c.lines = append(c.lines, line)
	if len(c.lines) > c.max {
		c.lines = c.lines[len(c.lines)-c.max:]
	}
}

func (c *consoleTail) snapshot() (lines []string, panicked, oom bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...), c.panic, c.oom
}

// isKernelImage reports whether the file at p looks like an x86 bzImage:
// the boot protocol's "HdrS" magic at offset 0x202.
func isKernelImage(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var b [4]byte
	if _, err := f.ReadAt(b[:], 0x202); err != nil {
		return false, nil
	}
	return bytes.Equal(b[:], []byte("HdrS")), nil
}

// ShellQuote renders argv as a command line a POSIX shell runs unchanged.
func ShellQuote(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r == '/' || r == '-' || r == '_' || r == '.' || r == '=' || r == ',' || r == ':' ||
				r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
