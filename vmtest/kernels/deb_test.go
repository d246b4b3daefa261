package kernels

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func tarOf(t *testing.T, entries map[string]string, links map[string]string) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, target := range links {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(body)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func TestExtractImageLayouts(t *testing.T) {
	for name, tc := range map[string]struct {
		entries map[string]string
		links   map[string]string
		path    string
	}{
		"linux-image with boot/": {
			entries: map[string]string{
				"./boot/config-6.1.0-50-cloud-amd64":                      "config",
				"./boot/vmlinuz-6.1.0-50-cloud-amd64":                     "IMAGE",
				"./lib/modules/6.1.0-50-cloud-amd64/kernel/x.ko":          "module",
				"./usr/share/doc/linux-image-6.1.0-50-cloud-amd64/README": "doc",
			},
			path: "./boot/vmlinuz-6.1.0-50-cloud-amd64",
		},
		"linux-binary with usr/lib/modules": {
			entries: map[string]string{
				"./usr/lib/modules/7.3.4+deb13-cloud-amd64/vmlinuz":        "IMAGE",
				"./usr/lib/modules/7.3.4+deb13-cloud-amd64/System.map":     "map",
				"./usr/lib/modules/7.3.4+deb13-cloud-amd64/kernel/vmlinuz": "not this",
			},
			links: map[string]string{"./boot/vmlinuz-7.3.4+deb13-cloud-amd64": "../usr/lib/modules/7.3.4+deb13-cloud-amd64/vmlinuz"},
			path:  "./usr/lib/modules/7.3.4+deb13-cloud-amd64/vmlinuz",
		},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			got, err := extract(tarOf(t, tc.entries, tc.links), &out, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.path || out.String() != "IMAGE" {
				t.Errorf("extracted %s = %q, want %s = IMAGE", got, out.String(), tc.path)
			}
		})
	}
	t.Run("meta package without image", func(t *testing.T) {
		_, err := extract(tarOf(t, map[string]string{"./usr/share/doc/x/copyright": "c"}, nil), &bytes.Buffer{}, nil)
		if !errors.Is(err, ErrNoImage) {
			t.Fatalf("got %v, want ErrNoImage", err)
		}
	})
}

func TestExtractKeepsModulesAndConfig(t *testing.T) {
	entries := map[string]string{
		"./boot/vmlinuz-6.1.0-50-cloud-amd64":                                              "IMAGE",
		"./lib/modules/6.1.0-50-cloud-amd64/kernel/drivers/virtio/virtio.ko":               "v",
		"./lib/modules/6.1.0-50-cloud-amd64/kernel/drivers/virtio/virtio_pci.ko":           "p",
		"./lib/modules/6.1.0-50-cloud-amd64/kernel/drivers/virtio/virtio_balloon.ko":       "no",
		"./lib/modules/6.1.0-50-cloud-amd64/kernel/drivers/char/virtio_console.ko":         "c",
		"./usr/lib/modules/6.18.1-cloud-amd64/kernel/drivers/virtio/virtio_ring.ko.xz":     "x",
		"./lib/modules/6.1.0-50-cloud-amd64/kernel/drivers/block/virtio_blk.ko":            "no",
		"./boot/config-6.1.0-50-cloud-amd64":                                               "CONFIG_BPF=y",
		"./usr/lib/modules/7.3.4+deb13-cloud-amd64/config":                                 "CONFIG_BPF=y 7",
		"./usr/share/doc/linux-image-6.1.0-50-cloud-amd64/kernel/drivers/virtio/virtio.ko": "no",
	}
	kept := map[string]string{}
	var out bytes.Buffer
	if _, err := extract(tarOf(t, entries, nil), &out, func(files []string, r io.Reader) error {
		b, err := io.ReadAll(r)
		for _, f := range files {
			kept[f] = string(b)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"modules/virtio.ko": "v", "modules/virtio_pci.ko": "p", "modules/virtio_console.ko": "c", "modules/virtio_ring.ko.xz": "x",
		"config-6.1.0-50-cloud-amd64": "CONFIG_BPF=y", "config-7.3.4+deb13-cloud-amd64": "CONFIG_BPF=y 7",
		// The whole tree, under one prefix whatever the package's.
		"usr/lib/modules/6.1.0-50-cloud-amd64/kernel/drivers/virtio/virtio.ko":         "v",
		"usr/lib/modules/6.1.0-50-cloud-amd64/kernel/drivers/virtio/virtio_pci.ko":     "p",
		"usr/lib/modules/6.1.0-50-cloud-amd64/kernel/drivers/virtio/virtio_balloon.ko": "no",
		"usr/lib/modules/6.1.0-50-cloud-amd64/kernel/drivers/char/virtio_console.ko":   "c",
		"usr/lib/modules/6.18.1-cloud-amd64/kernel/drivers/virtio/virtio_ring.ko.xz":   "x",
		"usr/lib/modules/6.1.0-50-cloud-amd64/kernel/drivers/block/virtio_blk.ko":      "no",
		"usr/lib/modules/7.3.4+deb13-cloud-amd64/config":                               "CONFIG_BPF=y 7",
	}
	if diff := cmp.Diff(want, kept); diff != "" {
		t.Errorf("kept modules (-want +got):\n%s", diff)
	}
	if out.String() != "IMAGE" {
		t.Errorf("image %q", out.String())
	}
}
