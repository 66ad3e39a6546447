//go:build race

package executor_test

// raceDetector: the race detector makes code several times slower, and
// allocates more, so tests of memory bound it without it only.
const raceDetector = true
