package kernels

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sum = "fb4a1229952d892138532c1d9f40a7fd0bd408e4dcf969c12e4524b6a89fdcb8"

func TestParseLock(t *testing.T) {
	in := `# comment
default 6.1
5.10 bullseye linux-image-5.10.0-32-cloud-amd64 5.10.223-1 ` + sum + ` linux-image-5.10.0-*-cloud-amd64
6.1  bookworm linux-image-6.1.0-50-cloud-amd64 6.1.176-1  ` + sum + ` linux-image-6.1.0-*-cloud-amd64 # trailing
7.x trixie-backports linux-binary-7.3.4+deb13-cloud-amd64 7.3.4-1~bpo13+1 ` + sum + ` linux-binary-7.*-cloud-amd64
`
	l, err := ParseLock(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := &Lock{Default: "6.1", Kernels: []Kernel{
		{"5.10", "bullseye", "linux-image-5.10.0-32-cloud-amd64", "5.10.223-1", sum, "linux-image-5.10.0-*-cloud-amd64"},
		{"6.1", "bookworm", "linux-image-6.1.0-50-cloud-amd64", "6.1.176-1", sum, "linux-image-6.1.0-*-cloud-amd64"},
		{"7.x", "trixie-backports", "linux-binary-7.3.4+deb13-cloud-amd64", "7.3.4-1~bpo13+1", sum, "linux-binary-7.*-cloud-amd64"},
	}}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Fatalf("lock (-want +got):\n%s", diff)
	}

	for name, tc := range map[string]struct{ in, want string }{
		"alias":          {"6.1", "6.1"},
		"version prefix": {"7.3", "7.x"},
		"full version":   {"6.1.176-1", "6.1"},
	} {
		k, err := l.Find(tc.in)
		if err != nil || k.Alias != tc.want {
			t.Errorf("%s: Find(%q) = %v, %v; want %s", name, tc.in, k.Alias, err, tc.want)
		}
	}
	if _, err := l.Find("4.19"); !errors.Is(err, ErrUnknownKernel) || !strings.Contains(err.Error(), "5.10, 6.1, 7.x") {
		t.Errorf("Find(4.19) = %v, want ErrUnknownKernel listing the aliases", err)
	}

	// Format writes what ParseLock reads.
	var buf bytes.Buffer
	if err := l.Format(&buf); err != nil {
		t.Fatal(err)
	}
	again, err := ParseLock(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(l, again); diff != "" {
		t.Errorf("format round trip (-want +got):\n%s", diff)
	}
}

func TestParseLockErrors(t *testing.T) {
	line := "6.1 bookworm linux-image-6.1.0-50-cloud-amd64 6.1.176-1 " + sum + " linux-image-6.1.0-*-cloud-amd64\n"
	for name, in := range map[string]string{
		"empty":            "# nothing\n",
		"few fields":       "6.1 bookworm pkg\n",
		"bad hash":         strings.Replace(line, sum, "abc", 1),
		"pattern mismatch": strings.Replace(line, "linux-image-6.1.0-*", "linux-image-9.*", 1),
		"duplicate alias":  line + line,
		"unknown default":  "default 9.9\n" + line,
		"reserved alias":   strings.Replace(line, "6.1 ", "all ", 1),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseLock(strings.NewReader(in)); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestEmbeddedLock(t *testing.T) {
	l, err := LoadLock("")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := l.Format(&buf); err != nil {
		t.Fatal(err)
	}
	// The committed file is in the canonical form 'kernels update' writes.
	if diff := cmp.Diff(string(DefaultLock), buf.String()); diff != "" {
		t.Errorf("kernels.lock is not formatted as Format writes it (-file +format):\n%s", diff)
	}
	if l.Default != "6.12" {
		t.Errorf("default kernel %s, want 6.12", l.Default)
	}
	// The matrix spans the oldest LTS to the newest 7.x.
	for _, a := range []string{"5.10", "6.1", "6.12", "7.x"} {
		if _, err := l.Find(a); err != nil {
			t.Errorf("matrix lacks %s", a)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"5.10.223-1", "5.10.218-1", 1},
		{"6.19.6-1", "6.19.14-1", -1},
		{"7.3.4-1~bpo13+1", "7.3.4-1", -1},
		{"7.3.4-1~bpo13+1", "7.2.12-1", 1},
		{"1:1.0", "2.0", 1},
		{"1.0", "1.0", 0},
		{"1.0~rc1", "1.0", -1},
		{"1.0a", "1.0", 1},
		{"1.0+b1", "1.0", 1},
	} {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := CompareVersions(tc.b, tc.a); got != -tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}
