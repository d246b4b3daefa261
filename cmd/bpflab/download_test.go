package main

import (
	"strings"
	"testing"
	"time"

	"github.com/bpflab/bpflab/vmtest/kernels"
)

func TestProgressLine(t *testing.T) {
	for _, c := range []struct {
		p    kernels.Progress
		took time.Duration
		want string
	}{
		{kernels.Progress{Done: 12 << 20, Total: 60 << 20}, 3 * time.Second, "12.0 MiB of 60.0 MiB (20%), 4.0 MiB/s"},
		{kernels.Progress{Done: 6 << 20}, 2 * time.Second, "6.0 MiB, 3.0 MiB/s"},
		{kernels.Progress{Done: 60 << 20, Total: 60 << 20, Finished: true}, 4 * time.Second, "60.0 MiB in 4s, 15.0 MiB/s"},
		{kernels.Progress{Done: 0, Total: 60 << 20}, 0, "0.0 MiB of 60.0 MiB (0%)"},
	} {
		if got := progressLine(c.p, c.took); got != c.want {
			t.Errorf("progressLine(%+v, %v) = %q, want %q", c.p, c.took, got, c.want)
		}
	}
}

// TestDownloadProgress: without a terminal a download is a line when it
// starts and one when it ends, not a line a report; on a terminal it is
// a bar with the bytes, drawn in place.
func TestDownloadProgress(t *testing.T) {
	var plain strings.Builder
	report := downloadProgress(&plain, false)
	for i := int64(0); i <= 10; i++ {
		report(kernels.Progress{What: "downloading linux-image-x", Done: i << 20, Total: 10 << 20})
	}
	report(kernels.Progress{What: "downloading linux-image-x", Done: 10 << 20, Total: 10 << 20, Finished: true})
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "0.0 MiB of 10.0 MiB (0%)") || !strings.Contains(lines[1], "10.0 MiB in") {
		t.Errorf("plain lines:\n%s", plain.String())
	}
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\x1b") {
			t.Errorf("terminal codes in a plain line: %q", l)
		}
	}

	var live strings.Builder
	report = downloadProgress(&live, true)
	report(kernels.Progress{What: "downloading linux-image-y", Done: 5 << 20, Total: 10 << 20})
	time.Sleep(150 * time.Millisecond) // past the bar's throttle
	report(kernels.Progress{What: "downloading linux-image-y", Done: 10 << 20, Total: 10 << 20, Finished: true})
	out := live.String()
	if !strings.Contains(out, "\r") || !strings.Contains(out, "downloading linux-image-y") || !strings.Contains(out, "MiB") || strings.Contains(out, "\n") {
		t.Errorf("live bar: %q", out)
	}
}
