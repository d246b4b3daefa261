package usdt

import (
	"errors"
	"strings"
	"testing"
)

// TestSites checks what Attach decides before it touches the kernel: which
// sites, with which spec, at which address when there are no cookies.
func TestSites(t *testing.T) {
	withCookies := &Manager{layout: usdt112, cookies: true}
	without := &Manager{layout: usdt112}

	exe, lib := build(t, variants[1]) // a PIE and a shared library
	pie, err := Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	so, err := Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	fixedExe, _ := build(t, variants[3])
	fixed, err := Open(fixedExe)
	if err != nil {
		t.Fatal(err)
	}

	// Cookies: no PID needed, no addresses.
	sites, err := withCookies.sites(pie, "lab", "inlined", &Options{Cookie: 7})
	if err != nil || len(sites) != 2 {
		t.Fatalf("%d sites, %v", len(sites), err)
	}
	for _, s := range sites {
		want, _ := usdt112.encode(mustArgs(t, s.probe), 7)
		if s.ip != 0 || string(s.value) != string(want) {
			t.Errorf("site %s: ip %#x, value %x", s.probe, s.ip, s.value)
		}
	}

	// No cookies: a position-independent file needs a PID.
	for _, f := range []*File{pie, so} {
		name := "inlined"
		if f == so {
			name = "library"
		}
		if _, err := without.sites(f, "lab", name, &Options{}); !errors.Is(err, ErrNeedPID) {
			t.Errorf("%s without PID: %v, want ErrNeedPID", f.Path(), err)
		}
	}
	// ... but not a fixed executable, whose addresses are the same in every process.
	sites, err = without.sites(fixed, "lab", "inlined", &Options{})
	if err != nil || len(sites) != 2 {
		t.Fatalf("fixed executable: %d sites, %v", len(sites), err)
	}
	for _, s := range sites {
		if s.ip != s.probe.Address {
			t.Errorf("site %s: ip %#x", s.probe, s.ip)
		}
	}
	// With a PID the address is where that process has the probe.
	pid := start(t, exe)
	for _, c := range []struct {
		f    *File
		name string
	}{{pie, "inlined"}, {so, "library"}} {
		sites, err := without.sites(c.f, "lab", c.name, &Options{PID: pid})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sites {
			want, err := c.f.addressIn(pid, s.probe.Offset)
			if err != nil || s.ip != want || s.ip == s.probe.Address {
				t.Errorf("site %s: ip %#x, want %#x (%v)", s.probe, s.ip, want, err)
			}
		}
	}
	if _, err := without.sites(pie, "lab", "inlined", &Options{PID: 1 << 30}); err == nil {
		t.Error("found the probe in a process that does not exist")
	}

	// A probe that cannot be read attaches nowhere; the error names it.
	_, err = withCookies.sites(pie, "lab", "globals", &Options{})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "lab:globals") {
		t.Errorf("globals: %v", err)
	}
	if _, err := withCookies.sites(pie, "lab", "nosuch", &Options{}); !errors.Is(err, ErrNoProbe) {
		t.Errorf("nosuch: %v", err)
	}
}

func mustArgs(t *testing.T, p Probe) []Arg {
	t.Helper()
	args, err := p.Arguments()
	if err != nil {
		t.Fatal(err)
	}
	return args
}
