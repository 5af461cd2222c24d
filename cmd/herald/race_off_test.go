//go:build !race

package main_test

// raceEnabled: this test binary runs under the race detector.
const raceEnabled = false
