package cgotest

import (
	"os"
	"testing"
)

func TestTwice(t *testing.T) {
	if Twice(-21) != 42 {
		t.Fatal("C arithmetic")
	}
	if os.Getenv("BPFLAB_GUEST") != "1" {
		t.Fatal("not running in a bpflab guest")
	}
}
