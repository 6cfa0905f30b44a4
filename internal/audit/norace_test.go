//go:build !race

package audit

// raceSlowdown widens time bounds under the race detector.
const raceSlowdown = 1
