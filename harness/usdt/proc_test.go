package usdt

import (
	"strings"
	"testing"
)

func TestMappedAddress(t *testing.T) {
	const maps = `55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234                       /opt/lab/target
55d0c0a01000-55d0c0a02000 r-xp 00001000 08:01 1234                       /opt/lab/target
55d0c0a02000-55d0c0a03000 r--p 00002000 08:01 1234                       /opt/lab/target
55d0c0a03000-55d0c0a05000 rw-p 00002000 08:01 1234                       /opt/lab/target
7f0000000000-7f0000001000 r-xp 00001000 08:01 99                         /opt/lab/other
7f0000100000-7f0000102000 r-xp 00003000 08:01 77                         /opt/my lab/lib with spaces.so
7f0000200000-7f0000201000 rw-p 00000000 00:00 0 
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
`
	for _, c := range []struct {
		name, path string
		off, want  uint64
		code       bool
		err        string
	}{
		{"executable text", "/opt/lab/target", 0x1234, 0x55d0c0a01234, true, ""},
		{"last byte", "/opt/lab/target", 0x1fff, 0x55d0c0a01fff, true, ""},
		{"only executable mappings", "/opt/lab/target", 0x2010, 0, true, "no executable mapping"},
		{"writable data", "/opt/lab/target", 0x2010, 0x55d0c0a03010, false, ""},
		{"only writable mappings", "/opt/lab/target", 0x1234, 0, false, "no writable mapping"},
		{"path with spaces", "/opt/my lab/lib with spaces.so", 0x4000, 0x7f0000101000, true, ""},
		{"another file", "/opt/lab/nothere", 0x1234, 0, true, "no executable mapping"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := mappedAddress(strings.NewReader(maps), c.path, c.off, c.code)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("got %#x %v, want %#x", got, err, c.want)
			}
		})
	}
	if _, err := mappedAddress(strings.NewReader("zz-10 r-xp 0 08:01 1 /opt/lab/target\n"), "/opt/lab/target", 0, true); err == nil {
		t.Error("parsed a malformed line")
	}
}
