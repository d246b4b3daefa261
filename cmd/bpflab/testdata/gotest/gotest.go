package gotest

// Covered is here so that coverage has a statement to count.
func Covered(n int) int {
	if n > 0 {
		return n * 2
	}
	return 0
}
