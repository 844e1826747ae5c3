//go:build race

package frame

// raceEnabled: the race detector makes values escape, so allocation counts differ.
const raceEnabled = true
