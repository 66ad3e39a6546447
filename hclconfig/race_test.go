//go:build race

package hclconfig

// raceDetector: the race detector makes code several times slower, and
// allocates more, so tests of time measure only ratios under it and tests
// of allocations bound them without it only.
const raceDetector = true
