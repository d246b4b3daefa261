// Package cgotest is a cgo package: its test binary is dynamically linked,
// so running it in a guest needs its loader and libc.
package cgotest

// #include <stdlib.h>
// static int twice(int n) { return abs(n) * 2; }
import "C"

// Twice doubles |n| in C.
func Twice(n int) int { return int(C.twice(C.int(n))) }
