//go:build !race

package warden

// raceSlowdown widens time bounds under the race detector.
const raceSlowdown = 1
