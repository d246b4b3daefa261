package kernels

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// MirrorEnv overrides the Debian archive address read from apt's sources.
const MirrorEnv = "BPFLAB_DEBIAN_MIRROR"

// ErrNoMirror is returned when no Debian archive is configured for apt.
var ErrNoMirror = errors.New("no Debian archive in apt's sources: set " + MirrorEnv + " to a Debian mirror's URI")

// debianSuites are the code names whose archive also serves the other
// suites; a source for one of them points at a Debian mirror.
var debianSuites = map[string]bool{
	"buster": true, "bullseye": true, "bookworm": true, "trixie": true,
	"forky": true, "duke": true, "sid": true, "unstable": true,
	"testing": true, "stable": true, "oldstable": true,
}

// sourceEntry is one deb line or stanza of apt's sources.
type sourceEntry struct {
	uris   []string
	suites []string
}

// isDebianMain reports whether the entry is Debian's main archive (not the
// security archive, which has another layout, nor a third-party one).
func (e sourceEntry) isDebianMain() bool {
	for _, s := range e.suites {
		base, suffix, _ := strings.Cut(s, "-")
		if debianSuites[base] && suffix != "security" && !strings.HasSuffix(s, "/updates") {
			return true
		}
	}
	return false
}

// FindMirror returns the Debian archive URI: $BPFLAB_DEBIAN_MIRROR if set,
// else the first Debian main archive in the apt sources under etcDir
// (normally /etc/apt).
func FindMirror(etcDir string) (string, error) {
	if m := strings.TrimSpace(os.Getenv(MirrorEnv)); m != "" {
		return strings.TrimRight(m, "/"), nil
	}
	var entries []sourceEntry
	if b, err := os.ReadFile(filepath.Join(etcDir, "sources.list")); err == nil {
		entries = append(entries, parseOneLine(string(b))...)
	}
	parts, _ := filepath.Glob(filepath.Join(etcDir, "sources.list.d", "*"))
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(p, ".list"):
			entries = append(entries, parseOneLine(string(b))...)
		case strings.HasSuffix(p, ".sources"):
			entries = append(entries, parseDeb822(string(b))...)
		}
	}
	for _, e := range entries {
		if e.isDebianMain() {
			for _, u := range e.uris {
				if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
					return strings.TrimRight(u, "/"), nil
				}
			}
		}
	}
	return "", ErrNoMirror
}

// parseOneLine reads the classic format: deb [options] URI SUITE COMPONENT...
func parseOneLine(s string) []sourceEntry {
	var out []sourceEntry
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) == 0 {
				continue
			}
			f = f[1:]
		}
		if len(f) < 2 {
			continue
		}
		out = append(out, sourceEntry{uris: []string{f[0]}, suites: []string{f[1]}})
	}
	return out
}

// parseDeb822 reads the stanza format of .sources files.
func parseDeb822(s string) []sourceEntry {
	var out []sourceEntry
	for _, stanza := range strings.Split(strings.ReplaceAll(s, "\r", ""), "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok || strings.HasPrefix(line, " ") {
				continue
			}
			fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
		if fields["enabled"] == "no" || !strings.Contains(" "+fields["types"]+" ", " deb ") {
			continue
		}
		out = append(out, sourceEntry{uris: strings.Fields(fields["uris"]), suites: strings.Fields(fields["suites"])})
	}
	return out
}
