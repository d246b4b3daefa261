package kernels

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Progress is how far a long step of a fetch has come: Done bytes of Total
// (0 when apt does not say) of What ("downloading linux-image-6.12...",
// "updating the package lists").
type Progress struct {
	What        string
	Done, Total int64
	// Finished is set on the step's last report.
	Finished bool
}

// progressEvery is how often a step in flight is reported.
const progressEvery = 200 * time.Millisecond

// watch reports step what every progressEvery, measuring it with size,
// until the returned function is called; the last report has Finished
// set. Without s.OnProgress it does nothing.
func (s *Store) watch(what string, total int64, size func() int64) (stop func()) {
	if s.OnProgress == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.OnProgress(Progress{What: what, Done: size(), Total: total})
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		s.OnProgress(Progress{What: what, Done: size(), Total: total, Finished: true})
	}
}

// dirBytes is the size of the regular files under dirs, for a step that
// writes files there.
func dirBytes(dirs ...string) func() int64 {
	return func() int64 { return DirSize(dirs...) }
}

// DirSize is the size of the regular files under dirs.
func DirSize(dirs ...string) int64 {
	var n int64
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(_ string, e os.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				if fi, err := e.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
	}
	return n
}

// newBytes is the size of the regular files under dir modified since
// start: the package lists apt-get update fetched (it moves each from
// partial/ into dir once complete).
func newBytes(dir string, start time.Time) func() int64 {
	return func() int64 {
		var n int64
		_ = filepath.WalkDir(dir, func(_ string, e os.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				if fi, err := e.Info(); err == nil && !fi.ModTime().Before(start) {
					n += fi.Size()
				}
			}
			return nil
		})
		return n
	}
}

// debSize is the size apt-get's --print-uris gives for the package
// ('URI' FILE SIZE HASH), or 0.
func debSize(out string) int64 {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && strings.HasPrefix(f[0], "'") && strings.HasSuffix(f[1], ".deb") {
			if n, err := strconv.ParseInt(f[2], 10, 64); err == nil {
				return n
			}
		}
	}
	return 0
}
