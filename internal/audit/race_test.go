//go:build race

package audit

// raceSlowdown widens the time bounds of the cost tests under the race
// detector, which slows the matcher's Go loops far more than the assembly
// of strings.Index that benign patterns use.
const raceSlowdown = 4
