package lab4_test

import (
	"testing"

	"github.com/bpflab/bpflab/internal/labtest"
	lab4 "github.com/bpflab/bpflab/labs/lab-4"
)

// TestLab grades every submission on every kernel of the matrix, in one
// boot per kernel: 5.10 has no BPF cookies, so usdt.bpf.h finds its
// arguments by instruction address there.
func TestLab(t *testing.T) {
	labtest.Matrix(t, lab4.Lab, []labtest.Case{
		{Src: "solution/order.bpf.c"},
		{Src: "order.bpf.c", Fail: []string{"placed-reported", "audit-reported"}},
		{Src: "testdata/wrong/wrong-probe.bpf.c", Fail: []string{"placed-reported", "cancelled-silent"}},
		{Src: "testdata/wrong/u32-id.bpf.c", Fail: []string{"placed-reported"}},
		{Src: "testdata/wrong/short-quantity.bpf.c", Fail: []string{"placed-reported"}},
		{Src: "testdata/wrong/no-zero.bpf.c", Fail: []string{"placed-reported", "audit-reported"}},
		{Src: "testdata/wrong/fixed-registers.bpf.c", Fail: []string{"placed-reported", "audit-reported"}},
		{Src: "testdata/wrong/two-layouts.bpf.c", Fail: []string{"placed-reported", "audit-reported"}},
		{Src: "testdata/wrong/swapped-args.bpf.c", Fail: []string{"placed-reported"}},
		{Src: "testdata/wrong/kernel-read.bpf.c", Fail: []string{"placed-reported", "audit-reported"}},
		{Src: "testdata/wrong/fields-cleared.bpf.c", Fail: []string{"placed-reported", "audit-reported"}},
		{Src: "testdata/wrong/stack-event.bpf.c", Fail: []string{"placed-reported", "audit-reported"}},
		{Src: "testdata/wrong/fixed-read.bpf.c", Fail: []string{"placed-reported", "audit-reported"}},
		{Src: "testdata/wrong/skip-empty-item.bpf.c", Fail: []string{"placed-reported"}},
		{Src: "testdata/wrong/skip-zero-quantity.bpf.c", Fail: []string{"placed-reported"}},
		{Src: "testdata/wrong/length-s8.bpf.c", Fail: []string{"audit-reported"}},
		// One process places a burst of orders, some placed again.
		{Src: "testdata/wrong/dedup-id.bpf.c", Fail: []string{"placed-reported"}},
		{Src: "testdata/wrong/per-process-cap.bpf.c", Fail: []string{"placed-reported"}},
		// Audits from other threads happen in most runs, not all.
		{Src: "testdata/wrong/tid-not-pid.bpf.c", Fail: []string{"placed-reported"}, MayFail: []string{"audit-reported"}},
	}, nil)
}

func TestRecord(t *testing.T) {
	got := lab4.Record(lab4.OrderArgs{ID: 1 << 33, Item: "tea", Quantity: -2})
	if want := `{"id":8589934592,"item":"tea","quantity":-2}`; got != want {
		t.Errorf("Record = %s, want %s", got, want)
	}
}
