//go:build race

package soap

// raceEnabled: this test binary runs under the race detector.
const raceEnabled = true
