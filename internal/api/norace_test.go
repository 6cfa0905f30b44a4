//go:build !race

package api_test

// raceSlowdown widens absolute time bounds under the race detector.
const raceSlowdown = 1

// attackThings is the size of the attack fleet.
const attackThings = 10000
