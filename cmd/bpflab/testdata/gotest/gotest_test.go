// Package gotest is run by cmd/bpflab's tests through 'go test -exec'.
package gotest

import (
	"os"
	"testing"
)

func TestFixture(t *testing.T) {
	b, err := os.ReadFile("testdata/fixture.txt")
	if err != nil || string(b) != "gotest fixture\n" {
		t.Fatalf("fixture: %q, %v", b, err)
	}
	if os.Getenv("BPFLAB_GUEST") != "1" {
		t.Fatal("not running in a bpflab guest")
	}
}

func TestSkipped(t *testing.T) { t.Skip("skipped on purpose") }

func TestFailsOnRequest(t *testing.T) {
	if os.Getenv("BPFLAB_GOTEST_FAIL") == "1" {
		t.Fatal("failing on request")
	}
}

func TestCovered(t *testing.T) {
	if Covered(2) != 4 {
		t.Fatal("math")
	}
}
