package kernels

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFindMirror(t *testing.T) {
	t.Setenv(MirrorEnv, "")
	for name, tc := range map[string]struct {
		files map[string]string
		want  string
	}{
		"deb822": {map[string]string{
			"sources.list.d/other.sources": "Types: deb\nURIs: https://vendor.invalid/apt\nSuites: nodistro\nComponents: main\n",
			"sources.list.d/debian.sources": "Types: deb\n# a comment\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n" +
				"Types: deb\nURIs: http://security.invalid/debian-security\nSuites: bookworm-security\nComponents: main\n",
		}, "http://mirror.invalid/debian"},
		"one-line": {map[string]string{
			"sources.list": "# deb http://old.invalid/debian buster main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian/ trixie main contrib\n",
		}, "http://mirror.invalid/debian"},
		"security only is not enough": {map[string]string{
			"sources.list": "deb http://security.invalid/debian-security bookworm-security main\n",
		}, ""},
		"disabled stanza": {map[string]string{
			"sources.list.d/d.sources": "Enabled: no\nTypes: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm\n",
		}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := FindMirror(writeFiles(t, tc.files))
			if tc.want == "" {
				if !errors.Is(err, ErrNoMirror) {
					t.Fatalf("got %q, %v; want ErrNoMirror", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	t.Run("environment wins", func(t *testing.T) {
		t.Setenv(MirrorEnv, "http://override.invalid/debian/")
		got, err := FindMirror(t.TempDir())
		if err != nil || got != "http://override.invalid/debian" {
			t.Fatalf("got %q, %v", got, err)
		}
	})
}
