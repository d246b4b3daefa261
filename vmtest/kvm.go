package vmtest

import (
	"os"
	"path/filepath"
	"strings"
)

// chooseAccel picks KVM when /dev/kvm opens and no boot under it has hung
// on this host since it booted; otherwise TCG. Opening /dev/kvm proves
// little: with broken nested virtualisation it opens and guests hang.
func chooseAccel(cacheDir string) string {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg"
	}
	f.Close()
	if v, ok := loadKVM(cacheDir); ok && !v {
		return "tcg"
	}
	return "kvm"
}

// The verdict is kept per host boot: a reboot may fix or break KVM.
func kvmVerdictPath(cacheDir string) string {
	if cacheDir == "" {
		return ""
	}
	return filepath.Join(cacheDir, "kvm-verdict")
}

func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

func loadKVM(cacheDir string) (works, known bool) {
	p := kvmVerdictPath(cacheDir)
	if p == "" {
		return false, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return false, false
	}
	id, verdict, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	if id != bootID() {
		return false, false
	}
	return verdict == "works", true
}

func recordKVM(cacheDir string, works bool) {
	p := kvmVerdictPath(cacheDir)
	if p == "" {
		return
	}
	verdict := "hangs"
	if works {
		verdict = "works"
	}
	_ = os.MkdirAll(cacheDir, 0o755)
	_ = os.WriteFile(p, []byte(bootID()+" "+verdict+"\n"), 0o644)
}

// KVMVerdict is what bpflab found of KVM on this host since it booted:
// whether guests run under it, and whether a boot has tried it yet.
func KVMVerdict(cacheDir string) (works, known bool) { return loadKVM(cacheDir) }
