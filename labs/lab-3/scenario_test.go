package lab3

import (
	"testing"

	"github.com/bpflab/bpflab/harness"
)

// TestScenarioCovers: every scenario, whatever its seed, has each kind of
// call a known-wrong program gets wrong, in both kinds of check: users at
// a page's end (one at a time), calls moved to the other CPU and calls made
// again (one at a time and at once), and one process making a burst of
// calls followed by calls one at a time.
func TestScenarioCovers(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		sc := scenario(harness.SeedFrom(seed), "pinlock", "pinlock-legacy")
		bursts := 0
		for _, p := range sc.Procs {
			if p.Exe != "pinlock" {
				continue
			}
			var edge, move, moveTogether, again, againTogether, burst, afterBurst int
			for i, c := range p.Calls {
				a := c.Args.(CallArgs)
				if len(a.Words()) != 5 {
					t.Fatalf("seed %d: call %d has words %q", seed, i, a.Words())
				}
				switch {
				case a.Edge && !a.Together:
					edge++
					if a.User == "" || len(a.User) >= userLen-1 {
						t.Errorf("seed %d: a user at a page's end is %q: a read of the whole buffer would not fault", seed, a.User)
					}
				case a.Edge:
					t.Errorf("seed %d: a user at a page's end in a call at once", seed)
				}
				if a.Move && a.User == "" {
					t.Errorf("seed %d: a moved call has no user", seed)
				}
				if a.Move && a.Together {
					moveTogether++
				} else if a.Move {
					move++
				}
				if a.Again {
					found := false
					for _, d := range p.Calls[:i] {
						b := d.Args.(CallArgs)
						found = found || b.Func == a.Func && b.User == a.User && b.Pin == a.Pin && b.Secret == a.Secret
					}
					if !found {
						t.Errorf("seed %d: call %d is marked again but no earlier call is the same", seed, i)
					}
					if a.Together {
						againTogether++
					} else {
						again++
					}
				}
				if a.Burst && a.Together {
					burst++
				} else if a.Burst {
					afterBurst++
				}
			}
			if edge == 0 || move == 0 || moveTogether == 0 || again == 0 || againTogether == 0 {
				t.Errorf("seed %d: process %q: %d users at a page's end, %d+%d moved calls, %d+%d calls again", seed, p.Comm, edge, move, moveTogether, again, againTogether)
			}
			if burst > 0 {
				bursts++
				if n := len(p.Calls); n < 50 || n > 100 || afterBurst == 0 || burst < burstCalls {
					t.Errorf("seed %d: the burst process makes %d calls, %d in its burst, %d after it", seed, n, burst, afterBurst)
				}
			}
		}
		if bursts != 1 {
			t.Errorf("seed %d: %d processes make a burst, want 1", seed, bursts)
		}
	}
}
