package vmtest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bpflab/bpflab/internal/testvm"
	"github.com/bpflab/bpflab/vmtest"
)

// BenchmarkBoot compares, per kernel, the runner's wall time for a trivial
// test binary, booting (cold) and restoring a saved guest (warm), and for
// a trivial static program restored (static), with a bare QEMU boot of an
// init that powers off at once.
// 'make bench-boot' turns the result into a table.
func BenchmarkBoot(b *testing.B) {
	ks := testvm.Kernels(b)
	tmp := b.TempDir()
	root := testvm.ModuleRoot()
	gobuild := func(args ...string) {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	payload := filepath.Join(tmp, "trivial.test")
	gobuild("test", "-c", "-o", payload, "./cmd/bpflab/testdata/gotest")
	bare := filepath.Join(tmp, "bareinit")
	gobuild("build", "-o", bare, "./vmtest/testdata/bareinit")
	r := vmtest.NewInitramfs()
	if err := r.File("/init", bare); err != nil {
		b.Fatal(err)
	}
	initrd := filepath.Join(tmp, "bare.cpio")
	f, err := os.Create(initrd)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.WriteTo(f); err != nil {
		b.Fatal(err)
	}
	f.Close()
	// The "trivial static payload": a program that only exits.
	static := filepath.Join(tmp, "exit0")
	src := filepath.Join(tmp, "exit0.c")
	if err := os.WriteFile(src, []byte("void _start(void) { __asm__ volatile(\"mov $60, %eax; xor %edi, %edi; syscall\"); }\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-static", "-nostdlib", "-O2", "-o", static, src).CombinedOutput(); err != nil {
		b.Fatalf("gcc: %v\n%s", err, out)
	}
	init := testvm.Binary(b)
	pkgDir := filepath.Join(root, "cmd", "bpflab", "testdata", "gotest")

	cache := b.TempDir()
	for _, k := range ks {
		run := func(b *testing.B, cfg vmtest.Config) *vmtest.Result {
			res, err := vmtest.Run(context.Background(), cfg,
				vmtest.Job{Args: []string{payload, "-test.run=TestCovered"}, Dir: pkgDir, ShipDir: true})
			if err != nil || res.Status.ShellCode() != 0 {
				b.Fatalf("run: %v %+v", err, res)
			}
			return res
		}
		b.Run(k.Alias+"/cold", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				run(b, vmtest.Config{Kernel: k.Path, Init: init, Accel: "tcg"})
			}
		})
		b.Run(k.Alias+"/warm", func(b *testing.B) {
			cfg := vmtest.Config{Kernel: k.Path, Init: init, Accel: "tcg", CacheDir: cache}
			run(b, cfg) // saves the guest, untimed
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if res := run(b, cfg); !res.Warm {
					b.Fatal("the run booted instead of restoring")
				}
			}
		})
		b.Run(k.Alias+"/static", func(b *testing.B) {
			cfg := vmtest.Config{Kernel: k.Path, Init: init, Accel: "tcg", CacheDir: cache}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := vmtest.Run(context.Background(), cfg, vmtest.Job{Args: []string{static}, Dir: "/"})
				if err != nil || res.Status.ShellCode() != 0 || !res.Warm {
					b.Fatalf("run: %v %+v", err, res)
				}
			}
		})
		b.Run(k.Alias+"/bare", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				cmd := exec.Command("qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
					"-no-reboot", "-machine", "pc,accel=tcg", "-cpu", "max", "-m", "512", "-smp", "1",
					"-kernel", k.Path, "-initrd", initrd, "-append", vmtest.KernelCmdline, "-serial", "null")
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("bare boot: %v\n%s", err, out)
				}
			}
		})
	}
}
