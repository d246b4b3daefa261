package main

import (
	"fmt"
	"io"
	"time"

	"github.com/bpflab/bpflab/vmtest/kernels"
	"github.com/schollz/progressbar/v3"
)

// plainEvery is how often a download in flight is reported as a plain
// line where there is no terminal (CI, a pipe, a log file).
const plainEvery = 5 * time.Second

// downloadProgress is the kernel store's OnProgress for a command: on a
// terminal (live) a progress bar for each download, with bytes, total and
// rate, cleared when it ends; elsewhere a plain line when a download
// starts, every few seconds, and when it ends.
func downloadProgress(w io.Writer, live bool) func(kernels.Progress) {
	var (
		what  string
		start time.Time
		last  time.Time
		bar   *progressbar.ProgressBar
	)
	return func(p kernels.Progress) {
		if p.What != what {
			what, start, last, bar = p.What, time.Now(), time.Time{}, nil
		}
		if live {
			if bar == nil {
				total := p.Total
				if total <= 0 {
					total = -1 // a spinner: apt did not say how much
				}
				bar = progressbar.NewOptions64(total,
					progressbar.OptionSetWriter(w),
					progressbar.OptionSetDescription("bpflab: "+p.What),
					progressbar.OptionShowBytes(true),
					progressbar.OptionShowTotalBytes(true),
					progressbar.OptionShowCount(),
					progressbar.OptionUseIECUnits(true),
					progressbar.OptionSetWidth(24),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionClearOnFinish(),
					progressbar.OptionSetPredictTime(false),
				)
			}
			_ = bar.Set64(p.Done)
			if p.Finished {
				_ = bar.Finish()
			}
			return
		}
		if !p.Finished && !last.IsZero() && time.Since(last) < plainEvery {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "bpflab: %s: %s\n", p.What, progressLine(p, time.Since(start)))
	}
}

// progressLine says how far a download has come in took: "12.0 MiB of
// 60.1 MiB (20%), 4.0 MiB/s", or at its end "60.1 MiB in 3.2s, 18.8
// MiB/s".
func progressLine(p kernels.Progress, took time.Duration) string {
	rate := ""
	if s := took.Seconds(); s > 0.05 {
		rate = ", " + mib(int64(float64(p.Done)/s)) + "/s"
	}
	switch {
	case p.Finished:
		return fmt.Sprintf("%s in %s%s", mib(p.Done), took.Round(100*time.Millisecond), rate)
	case p.Total > 0:
		return fmt.Sprintf("%s of %s (%d%%)%s", mib(p.Done), mib(p.Total), p.Done*100/p.Total, rate)
	}
	return mib(p.Done) + rate
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
