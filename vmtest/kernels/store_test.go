package kernels

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeApt puts an apt-get on PATH that serves one .deb: "update" succeeds,
// "download PKG=VER" copies deb into the working directory when VER is
// served and fails as apt does when it is not.
func fakeApt(t *testing.T, deb, served string) {
	t.Helper()
	bin := t.TempDir()
	script := `#!/bin/sh
for a in "$@"; do last="$a"; done
case " $* " in
*" update "*) exit 0 ;;
*" download "*)
  case "$last" in
  *="` + served + `") cp "` + deb + `" . ; exit 0 ;;
  *) echo "E: Version '${last#*=}' for '${last%%=*}' was not found"; exit 100 ;;
  esac ;;
esac
exit 1
`
	if err := os.WriteFile(filepath.Join(bin, "apt-get"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(MirrorEnv, "http://mirror.invalid/debian")
}

// buildDeb makes a kernel package with the given image path and contents.
func buildDeb(t *testing.T, image, contents string) (string, string) {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not installed")
	}
	root := filepath.Join(t.TempDir(), "pkg")
	for p, body := range map[string]string{
		image:            contents,
		"DEBIAN/control": "Package: linux-image-test\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: bpflab\nDescription: test\n",
	} {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deb := filepath.Join(t.TempDir(), "linux-image-test_1.0-1_amd64.deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
	sum, err := fileSHA256(deb)
	if err != nil {
		t.Fatal(err)
	}
	return deb, sum
}

func testStore(t *testing.T, k Kernel) *Store {
	if _, err := os.Stat("/usr/share/keyrings/debian-archive-keyring.gpg"); err != nil {
		t.Skip("debian-archive-keyring is not installed")
	}
	return &Store{Dir: t.TempDir(), Lock: &Lock{Kernels: []Kernel{k}, Default: k.Alias}, AptEtc: t.TempDir()}
}

func TestFetch(t *testing.T) {
	for name, image := range map[string]string{
		"boot layout":            "boot/vmlinuz-1.0-test",
		"usr/lib/modules layout": "usr/lib/modules/1.0-test/vmlinuz",
	} {
		t.Run(name, func(t *testing.T) {
			deb, sum := buildDeb(t, image, "IMAGE")
			fakeApt(t, deb, "1.0-1")
			k := Kernel{Alias: "t", Suite: "testing", Package: "linux-image-test", Version: "1.0-1", SHA256: sum, Pattern: "linux-image-*"}
			s := testStore(t, k)
			p, err := s.Fetch(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(p); string(b) != "IMAGE" {
				t.Errorf("image %q, want IMAGE", b)
			}
			if got, ok := s.Cached(k); !ok || got != p {
				t.Errorf("not cached after fetch")
			}
			if fi, err := os.Stat(filepath.Join(filepath.Dir(p), ModulesDir)); err != nil || !fi.IsDir() {
				t.Errorf("no %s directory beside the image: %v", ModulesDir, err)
			}
			// Nothing of the download is left behind.
			if m, _ := filepath.Glob(filepath.Join(s.Dir, "download-*")); len(m) > 0 {
				t.Errorf("download directories left: %v", m)
			}
		})
	}
}

func TestFetchErrors(t *testing.T) {
	deb, sum := buildDeb(t, "boot/vmlinuz-1.0-test", "IMAGE")
	t.Run("not served", func(t *testing.T) {
		fakeApt(t, deb, "1.0-1")
		k := Kernel{Alias: "t", Suite: "testing", Package: "linux-image-test", Version: "0.9-1", SHA256: sum, Pattern: "linux-image-*"}
		_, err := testStore(t, k).Fetch(context.Background(), k)
		if !errors.Is(err, ErrNotServed) || !strings.Contains(err.Error(), "bpflab kernels update") {
			t.Fatalf("got %v, want ErrNotServed naming 'bpflab kernels update'", err)
		}
	})
	t.Run("hash mismatch", func(t *testing.T) {
		fakeApt(t, deb, "1.0-1")
		k := Kernel{Alias: "t", Suite: "testing", Package: "linux-image-test", Version: "1.0-1", SHA256: strings.Repeat("0", 64), Pattern: "linux-image-*"}
		s := testStore(t, k)
		_, err := s.Fetch(context.Background(), k)
		if err == nil || !strings.Contains(err.Error(), "the lock pins") {
			t.Fatalf("got %v, want a hash mismatch", err)
		}
		if _, ok := s.Cached(k); ok {
			t.Error("a package with the wrong hash was cached")
		}
	})
	t.Run("no image", func(t *testing.T) {
		meta, msum := buildDeb(t, "usr/share/doc/linux-image-test/README", "doc")
		fakeApt(t, meta, "1.0-1")
		k := Kernel{Alias: "t", Suite: "testing", Package: "linux-image-test", Version: "1.0-1", SHA256: msum, Pattern: "linux-image-*"}
		_, err := testStore(t, k).Fetch(context.Background(), k)
		if !errors.Is(err, ErrNoImage) {
			t.Fatalf("got %v, want ErrNoImage", err)
		}
	})
}

// apt-get update exits 0 when the archive cannot be reached; bpflab must
// still say so, not report the kernel as no longer served.
func TestFetchUnreachableArchive(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\necho 'Err:1 http://mirror.invalid/debian bookworm InRelease'\n" +
		"echo '  Could not resolve mirror.invalid'\necho 'W: Failed to fetch http://mirror.invalid/debian/dists/bookworm/InRelease  Could not resolve mirror.invalid'\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "apt-get"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(MirrorEnv, "http://mirror.invalid/debian")
	k := Kernel{Alias: "t", Suite: "bookworm", Package: "linux-image-test", Version: "1.0-1", SHA256: strings.Repeat("0", 64), Pattern: "linux-image-*"}
	_, err := testStore(t, k).Fetch(context.Background(), k)
	if !errors.Is(err, ErrApt) || errors.Is(err, ErrNotServed) {
		t.Fatalf("got %v, want ErrApt", err)
	}
	if !strings.Contains(err.Error(), MirrorEnv) {
		t.Errorf("the error does not name %s: %v", MirrorEnv, err)
	}
}

func TestBasePackage(t *testing.T) {
	for in, want := range map[string]string{
		"linux-base-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1)":                        "linux-base-7.3.4+deb13-cloud-amd64=7.3.4-1~bpo13+1",
		"kmod, linux-base-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1), initramfs-tools": "linux-base-7.3.4+deb13-cloud-amd64=7.3.4-1~bpo13+1",
		"kmod, linux-base (>= 4.3~)":                                                    "",
		"":                                                                              "",
	} {
		if got := basePackage(in); got != want {
			t.Errorf("basePackage(%q) = %q, want %q", in, got, want)
		}
	}
}
