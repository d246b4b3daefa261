package wrong_test

import (
	"math/rand/v2"
	"testing"

	"github.com/bpflab/bpflab/labs/lab-7/internal/wrong"
	"github.com/bpflab/bpflab/labs/lab-7/kube"
	"github.com/google/go-cmp/cmp"
)

// TestChecksCatchEachMistake runs the Go checks on a tree of plain
// directories, as a student's go test does: the code without a mistake
// passes, and each mistake fails exactly the checks it gets wrong, for
// several seeds.
func TestChecksCatchEachMistake(t *testing.T) {
	want := map[string][]string{
		wrong.None:            nil,
		wrong.Underscores:     {kube.CheckParse, kube.CheckAtStart, kube.CheckAfterStart, kube.CheckRecreated},
		wrong.SystemdOnly:     {kube.CheckParse, kube.CheckAtStart, kube.CheckAfterStart},
		wrong.NoQoSGuaranteed: {kube.CheckParse, kube.CheckAtStart, kube.CheckAfterStart},
		wrong.ConmonContainer: {kube.CheckParse, kube.CheckAtStart, kube.CheckAfterStart},
		wrong.AnyContainer:    {kube.CheckParse, kube.CheckOutside},
		wrong.NoRefresh:       {kube.CheckAfterStart, kube.CheckRecreated},
		wrong.KnownPods:       {kube.CheckRecreated},
	}
	if len(want) != len(wrong.Mistakes)+1 {
		t.Fatalf("%d mistakes, %d expectations", len(wrong.Mistakes), len(want)-1)
	}
	for m, fails := range want {
		for i := 0; i < 3; i++ {
			seed := rand.Uint64()
			results, err := kube.CheckLocal(t.TempDir(), seed, wrong.Parser(m), wrong.NewResolver(m))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range results {
				if len(r.Fails) > 0 {
					got = append(got, r.Check)
				}
			}
			if diff := cmp.Diff(fails, got); diff != "" {
				t.Errorf("mistake %q (seed %d): failed checks (-want +got):\n%s", m, seed, diff)
				for _, r := range results {
					for _, f := range r.Fails {
						t.Logf("%s: %s", r.Check, f)
					}
				}
			}
		}
	}
}
