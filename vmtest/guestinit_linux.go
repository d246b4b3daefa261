package vmtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"github.com/bpflab/bpflab/vmtest/kernels"
	"golang.org/x/sys/unix"
)

// IsGuestInit reports whether this process is PID 1, that is, whether the
// bpflab binary was started by the kernel as the guest's init.
func IsGuestInit() bool { return os.Getpid() == 1 }

// GuestInit runs the guest side of a boot and powers the machine off. It
// never returns. Call it first thing in main when [IsGuestInit] is true.
func GuestInit() {
	// The guest is a throwaway machine for BPF: no limit on locked memory,
	// which kernels before 5.11 charge BPF maps and programs to. Test
	// suites expect it (cilium/ebpf's does not lift it itself), and the
	// payload inherits it.
	_ = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY})
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
// opens a private node for it, puts the line in raw mode so bytes pass
// unchanged, and removes the public node so the payload cannot write to it.
func (linuxGuest) OpenPort() (io.Writer, func() error, error) {
	f, err := openCharDev("/sys/class/tty/"+hostPort+"/dev", "/run/bpflab-port")
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", hostPort, err)
	}
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

func (linuxGuest) Create(path string, perm os.FileMode) (io.WriteCloser, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
}

func (linuxGuest) Symlink(target, link string) error {
	_ = os.Remove(link)
	return os.Symlink(target, link)
}

func (linuxGuest) SetTime(unixNano int64) error {
	ts := unix.NsecToTimespec(unixNano)
	return unix.ClockSettime(unix.CLOCK_REALTIME, &ts)
}

// The random device's ioctls (linux/random.h).
const (
	rndAddEntropy  = 0x40085203 // RNDADDENTROPY
	rndReseedCRNG  = 0x5207     // RNDRESEEDCRNG, Linux 4.17 and later
	entropyPerByte = 8
)

// AddEntropy credits seed to the input pool and reseeds the generator from
// it at once: a restored guest must not hand out numbers its snapshot's
// other clones handed out too.
func (linuxGuest) AddEntropy(seed []byte) error {
	f, err := os.OpenFile("/dev/urandom", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	info := make([]byte, 8+len(seed))
	binary.LittleEndian.PutUint32(info[0:], uint32(len(seed)*entropyPerByte))
	binary.LittleEndian.PutUint32(info[4:], uint32(len(seed)))
	copy(info[8:], seed)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), rndAddEntropy, uintptr(unsafe.Pointer(&info[0]))); e != 0 {
		return fmt.Errorf("RNDADDENTROPY: %w", e)
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), rndReseedCRNG, 0); e != 0 {
		return fmt.Errorf("RNDRESEEDCRNG: %w", e)
	}
	return nil
}

// OpenWarmPort loads the warm initramfs's modules in their order (a module
// the kernel has already, built in or loaded, is skipped), finds the port
// by name in sysfs, and opens a private node for it in blocking mode: a
// write then returns once QEMU has taken the bytes, so nothing is lost
// when the guest powers off right after its last frame. The public node
// devtmpfs made is removed.
func (linuxGuest) OpenWarmPort() (io.ReadWriter, error) {
	if err := loadModules(); err != nil {
		return nil, err
	}
	return openNamedPort(warmPortName)
}

// loadModules loads kernels.WarmModules, in order: the ports' (virtio) and
// the host view's (fuse, overlay).
func loadModules() error {
	for _, m := range kernels.WarmModules {
		if err := loadModule(m); err != nil {
			return err
		}
	}
	return nil
}

// openNamedPort opens the virtio-serial port named name, waiting for it to
// appear in sysfs.
func openNamedPort(name string) (*os.File, error) {
	var dev string
	deadline := time.Now().Add(5 * time.Second)
	for dev == "" {
		ports, _ := filepath.Glob("/sys/class/virtio-ports/*")
		for _, p := range ports {
			if n, _ := os.ReadFile(filepath.Join(p, "name")); strings.TrimSpace(string(n)) == name {
				dev = p
			}
		}
		if dev == "" {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("no virtio-serial port named %s (ports: %v)", name, ports)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	f, err := openCharDev(filepath.Join(dev, "dev"), "/run/bpflab-"+filepath.Base(dev))
	if err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join("/dev", filepath.Base(dev)))
	return f, nil
}

// loadModule loads module m from the warm initramfs, if it is there and
// not loaded yet (a restored guest has them all).
func loadModule(m string) error {
	files, _ := filepath.Glob(filepath.Join(warmModulesDir, m+".ko*"))
	if len(files) == 0 {
		return nil // built in, or not needed by this kernel
	}
	if _, err := os.Stat(filepath.Join("/sys/module", m)); err == nil {
		return nil
	}
	return InsertModule(files[0])
}

// InsertModule loads the kernel module in file (.ko, or compressed as the
// kernel's package ships it, which the kernel itself decompresses); one
// already loaded is no error.
func InsertModule(file string) error {
	fd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	flags := 0
	if !strings.HasSuffix(file, ".ko") {
		flags = unix.MODULE_INIT_COMPRESSED_FILE
	}
	if err := unix.FinitModule(fd, "", flags); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("loading %s: %w", filepath.Base(file), err)
	}
	return nil
}

// openCharDev makes a node for the device whose "major:minor" is in the
// sysfs file devFile, opens it read-write in blocking mode, and removes the
// node again.
func openCharDev(devFile, node string) (*os.File, error) {
	dev, err := os.ReadFile(devFile)
	if err != nil {
		return nil, err
	}
	var major, minor uint32
	if _, err := fmt.Sscanf(strings.TrimSpace(string(dev)), "%d:%d", &major, &minor); err != nil {
		return nil, fmt.Errorf("parsing the device number %q in %s: %w", dev, devFile, err)
	}
	_ = os.Remove(node)
	if err := unix.Mknod(node, unix.S_IFCHR|0o600, int(unix.Mkdev(major, minor))); err != nil {
		return nil, fmt.Errorf("mknod %s: %w", node, err)
	}
	defer os.Remove(node)
	// A raw open(2): os.OpenFile would make the descriptor non-blocking.
	fd, err := unix.Open(node, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), node), nil
}
