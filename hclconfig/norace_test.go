//go:build !race

package hclconfig

const raceDetector = false
