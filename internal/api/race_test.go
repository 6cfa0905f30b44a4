//go:build race

package api_test

// raceSlowdown widens absolute time bounds under the race detector, which
// makes this code several times slower.
const raceSlowdown = 5

// attackThings is the size of the attack fleet: under the race detector a
// fifth, so that the package stays well within go test's time limit.
const attackThings = 2000
