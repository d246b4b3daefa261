package kernels

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestDebSize(t *testing.T) {
	out := "'http://archive.invalid/pool/main/l/linux/linux-image-6.1.0-50-cloud-amd64_6.1.176-1_amd64.deb' linux-image-6.1.0-50-cloud-amd64_6.1.176-1_amd64.deb 26531012 SHA256:efe1\n"
	if got := debSize(out); got != 26531012 {
		t.Errorf("debSize = %d", got)
	}
	if got := debSize("E: Unable to locate package x\n"); got != 0 {
		t.Errorf("debSize of an error = %d", got)
	}
}

// TestWatch: a step in flight is reported as its files grow, and its last
// report says it finished with the final size.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var got []Progress
	s := &Store{OnProgress: func(p Progress) { mu.Lock(); got = append(got, p); mu.Unlock() }}
	stop := s.watch("downloading x", 3000, dirBytes(dir))
	for i := 1; i <= 3; i++ {
		if err := os.WriteFile(filepath.Join(dir, "x.deb"), make([]byte, i*1000), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(progressEvery + 50*time.Millisecond)
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 3 {
		t.Fatalf("%d reports: %+v", len(got), got)
	}
	last := got[len(got)-1]
	if !last.Finished || last.Done != 3000 || last.Total != 3000 || last.What != "downloading x" {
		t.Errorf("last report %+v", last)
	}
	for _, p := range got[:len(got)-1] {
		if p.Finished {
			t.Errorf("a report before the end says finished: %+v", p)
		}
	}
	(&Store{}).watch("nothing", 0, dirBytes(dir))() // no OnProgress: nothing to do
}
