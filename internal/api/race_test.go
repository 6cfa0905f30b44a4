//go:build race

package api_test

// raceSlowdown widens absolute time bounds under the race detector, which
// makes this code several times slower.
const raceSlowdown = 5
