//go:build !race

package api_test

// raceSlowdown widens absolute time bounds under the race detector.
const raceSlowdown = 1
