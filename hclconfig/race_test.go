//go:build race

package hclconfig

// raceDetector: the race detector makes code several times slower, so
// tests of time measure only ratios under it.
const raceDetector = true
