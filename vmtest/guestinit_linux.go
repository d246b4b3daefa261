package vmtest

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// IsGuestInit reports whether this process is PID 1, that is, whether the
// bpflab binary was started by the kernel as the guest's init.
func IsGuestInit() bool { return os.Getpid() == 1 }

// GuestInit runs the guest side of a boot and powers the machine off. It
// never returns. Call it first thing in main when [IsGuestInit] is true.
func GuestInit() {
	runInit(linuxGuest{})
	// PowerOff does not return; if it did, exiting PID 1 panics the kernel,
	// which the host reports as such.
	os.Exit(1)
}

type linuxGuest struct{}

func (linuxGuest) Mount(source, target, fstype string, flags uintptr, data string) error {
	return unix.Mount(source, target, fstype, flags, data)
}

func (linuxGuest) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }

func (linuxGuest) ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

func (linuxGuest) ReadDir(path string) ([]os.DirEntry, error) { return os.ReadDir(path) }

func (linuxGuest) WriteFile(path string, data []byte, perm os.FileMode) error {
	return os.WriteFile(path, data, perm)
}

func (linuxGuest) Log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func (linuxGuest) PowerOff() {
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

// hostPort is the second serial port; the first is the console.
const hostPort = "ttyS1"

// OpenPort finds the channel's device through sysfs (there is no udev),
// makes a private node for it, puts the line in raw mode so bytes pass
// unchanged, and removes the public node so the payload cannot write to it.
func (linuxGuest) OpenPort() (io.Writer, func() error, error) {
	dev, err := os.ReadFile("/sys/class/tty/" + hostPort + "/dev")
	if err != nil {
		return nil, nil, fmt.Errorf("no %s in sysfs: %w", hostPort, err)
	}
	var major, minor uint32
	if _, err := fmt.Sscanf(strings.TrimSpace(string(dev)), "%d:%d", &major, &minor); err != nil {
		return nil, nil, fmt.Errorf("parsing %s device number %q: %w", hostPort, dev, err)
	}
	node := "/run/bpflab-port"
	_ = os.Remove(node)
	if err := unix.Mknod(node, unix.S_IFCHR|0o600, int(unix.Mkdev(major, minor))); err != nil {
		return nil, nil, fmt.Errorf("mknod %s: %w", node, err)
	}
	f, err := os.OpenFile(node, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	_ = os.Remove(node)
	_ = os.Remove("/dev/" + hostPort)
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, nil, fmt.Errorf("reading line settings: %w", err)
	}
	// cfmakeraw
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return nil, nil, fmt.Errorf("setting raw mode: %w", err)
	}
	drain := func() error { return unix.IoctlSetInt(fd, unix.TCSBRK, 1) }
	return f, drain, nil
}
