package vmtest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bpflab/bpflab/internal/testvm"
	"github.com/bpflab/bpflab/vmtest"
	"github.com/hashicorp/go-hclog"
)

// fresh runs the "fresh" payload restored from the snapshot in cache and
// returns what it printed.
func fresh(t *testing.T, k testvm.Kernel, cache string, log hclog.Logger) (*vmtest.Result, map[string]string) {
	t.Helper()
	res, stdout, stderr, err := boot(t, k, "fresh", func(c *vmtest.Config, j *vmtest.Job) {
		c.CacheDir = cache
		if log != nil {
			c.Log = log
		}
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Status != (vmtest.ExitStatus{}) {
		t.Fatalf("status %+v; stderr:\n%s", res.Status, stderr)
	}
	out := map[string]string{}
	for _, f := range strings.Fields(stdout) {
		k, v, _ := strings.Cut(f, "=")
		out[k] = v
	}
	return res, out
}

// TestWarmGuestsAreFresh restores one saved guest several times, one after
// another and at once: each must draw its own random numbers, run on the
// host's time, and find /tmp as a boot leaves it.
func TestWarmGuestsAreFresh(t *testing.T) {
	cache := warmCache
	for _, k := range testvm.Kernels(t) {
		t.Run(k.Alias, func(t *testing.T) {
			seen := map[string]bool{}
			check := func(res *vmtest.Result, out map[string]string) {
				t.Helper()
				if !res.Warm {
					t.Errorf("booted the kernel instead of restoring the saved guest")
				}
				if seen[out["uuid"]] {
					t.Errorf("two restored guests drew the same random UUID %s", out["uuid"])
				}
				seen[out["uuid"]] = true
				if sec, _ := strconv.ParseInt(out["time"], 10, 64); time.Since(time.Unix(sec, 0)).Abs() > 30*time.Second {
					t.Errorf("guest clock %s, host %d: not the host's time", out["time"], time.Now().Unix())
				}
				if out["tmp"] != "" {
					t.Errorf("/tmp in a restored guest holds %s, want nothing", out["tmp"])
				}
			}
			for i := 0; i < 2; i++ {
				check(fresh(t, k, cache, nil))
			}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := 0; i < 2; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, out := fresh(t, k, cache, nil)
					mu.Lock()
					defer mu.Unlock()
					check(res, out)
				}()
			}
			wg.Wait()
		})
	}
}

// TestWarmFallsBack damages the saved guest: the run boots the kernel
// instead, says so in one log line, and the next run saves a new one.
func TestWarmFallsBack(t *testing.T) {
	k := testvm.Default(t)
	cache := t.TempDir()
	if res, _ := fresh(t, k, cache, nil); !res.Warm {
		t.Fatal("the first run did not end restored")
	}
	states, _ := filepath.Glob(filepath.Join(vmtest.WarmDir(cache), "*", "state"))
	if len(states) != 1 {
		t.Fatalf("saved guests: %v, want one", states)
	}
	if err := os.WriteFile(states[0], []byte("not a migration stream"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	start := time.Now()
	res, out := fresh(t, k, cache, log)
	if res.Warm || out["uuid"] == "" {
		t.Errorf("warm=%v output %v: want a boot that ran the payload", res.Warm, out)
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "booting the kernel") {
		t.Errorf("log of the fallback:\n%s\nwant one line saying the kernel is booted", logs.String())
	}
	t.Logf("fallback took %v: %s", time.Since(start).Round(time.Millisecond), logs.String())
	if res, _ := fresh(t, k, cache, nil); !res.Warm {
		t.Error("the damaged guest was not saved again")
	}
	if _, err := os.Stat(states[0]); err != nil {
		t.Errorf("no saved guest after the fallback: %v", err)
	}
}

// TestWarmCacheClean: a guest saved in an empty cache has its host view
// made before it is saved (the host answered only INIT: see
// PrepareHostView); CleanWarm empties the cache and reports what it freed.
func TestWarmCacheClean(t *testing.T) {
	k := testvm.Default(t)
	cache := t.TempDir()
	var logs bytes.Buffer
	fresh(t, k, cache, hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug}))
	if !strings.Contains(logs.String(), "guest ready to be saved") || !strings.Contains(logs.String(), "hostView=made") || strings.Contains(logs.String(), "after each restore") {
		t.Errorf("the saved guest's host view is not made before the save:\n%s", logs.String())
	}
	entries := vmtest.WarmEntries(cache)
	if len(entries) != 1 || entries[0].Size < 10<<20 {
		t.Fatalf("entries %+v, want one saved guest of some MiB", entries)
	}
	freed, err := vmtest.CleanWarm(cache)
	if err != nil || freed != entries[0].Size {
		t.Errorf("CleanWarm = %d, %v; want %d", freed, err, entries[0].Size)
	}
	if e := vmtest.WarmEntries(cache); len(e) != 0 {
		t.Errorf("entries after clean: %v", e)
	}
}

// hostViewSeen is what the "hostview" payload prints with the view.
const hostViewSeen = "gomod=\"module github.com/bpflab/bpflab\" err=false\nwrite=<nil>\nreadback=\"guest\" <nil>\nmodprobe=true \nuserns=<nil>\nmount=false\n"

// TestHostViewAfterRestore: a saved guest that could not keep its host
// view (forced here from the kernel command line) undoes it before the
// save, and each restored run makes it again: the payload sees the same.
func TestHostViewAfterRestore(t *testing.T) {
	k := testvm.Default(t)
	cache := t.TempDir()
	var logs bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})
	for i := 0; i < 2; i++ {
		res, stdout, stderr, err := boot(t, k, "hostview", func(c *vmtest.Config, j *vmtest.Job) {
			c.CacheDir, c.HostView, c.Log, c.Cmdline = cache, true, log, "bpflab.hostview=after-restore"
		})
		if err != nil || !res.Warm || stdout != hostViewSeen {
			t.Fatalf("run %d: warm=%v err=%v, the payload saw:\n%s\nwant:\n%s\nstderr:\n%s", i, res != nil && res.Warm, err, stdout, hostViewSeen, stderr)
		}
	}
	if !strings.Contains(logs.String(), "after each restore") {
		t.Errorf("the saving boot's log does not say the view is made after each restore:\n%s", logs.String())
	}
}

// TestHostView: with the host view, a payload reads the host's files at
// their paths, and its writes stay in the guest; without it, it sees only
// what was shipped. Restored and booted guests alike.
func TestHostView(t *testing.T) {
	probe := filepath.Join("..", "bpflab-hostview-probe")
	t.Cleanup(func() { os.Remove(probe) })
	view := func(cache string, on bool) func(*vmtest.Config, *vmtest.Job) {
		return func(c *vmtest.Config, j *vmtest.Job) { c.CacheDir, c.HostView = cache, on }
	}
	for _, k := range testvm.Kernels(t) {
		t.Run(k.Alias, func(t *testing.T) {
			res, stdout, stderr, err := boot(t, k, "hostview", view(warmCache, true))
			if err != nil || res.Status != (vmtest.ExitStatus{}) {
				t.Fatalf("run: %v %+v\n%s", err, res, stderr)
			}
			if stdout != hostViewSeen || !res.Warm {
				t.Errorf("warm=%v, the payload saw:\n%s\nwant:\n%s\nstderr:\n%s", res.Warm, stdout, hostViewSeen, stderr)
			}
			if _, err := os.Stat(probe); err == nil {
				t.Errorf("a write in the guest reached the host: %s", probe)
			}
		})
	}
	k := testvm.Default(t)
	t.Run("cold", func(t *testing.T) {
		res, stdout, _, err := boot(t, k, "hostview", view("", true))
		if err != nil || res.Warm || !strings.HasPrefix(stdout, "gomod=\"module github.com/bpflab/bpflab\" err=false") {
			t.Errorf("a booted guest with the host view: warm=%v err=%v output:\n%s", res != nil && res.Warm, err, stdout)
		}
	})
	t.Run("off", func(t *testing.T) {
		// Restored: the saved guest's prepared view is dropped.
		res, stdout, _, err := boot(t, k, "hostview", view(warmCache, false))
		if err != nil || !res.Warm || !strings.HasPrefix(stdout, "gomod=\"\" err=true") || !strings.HasSuffix(stdout, "mount=false\n") {
			t.Errorf("without the host view the payload read the host's files: %v\n%s", err, stdout)
		}
	})
}

// A payload whose start reads the host view: a script in a directory the
// guest has and the host has too (a merged directory: looking it up asks
// the host), run by an interpreter the guest sees only through the host
// view. Starting it must not wait for the init's own relay, which runs in
// the process that starts it.
func TestHostViewPayloadStart(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "sub", "run.sh")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho started from the merged directory\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, cache := range []string{warmCache, ""} {
		k := testvm.Default(t)
		res, stdout, stderr, err := boot(t, k, "", func(c *vmtest.Config, j *vmtest.Job) {
			c.CacheDir, c.HostView, c.RunTimeout = cache, true, time.Minute
			*j = vmtest.Job{Args: []string{script}, Dir: dir}
		})
		if err != nil || res.Status != (vmtest.ExitStatus{}) || stdout != "started from the merged directory\n" {
			t.Errorf("warm=%v: %v %+v\nstdout: %q\nstderr: %s", cache != "", err, res, stdout, stderr)
		}
	}
}
