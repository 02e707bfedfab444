//go:build race

package sim

// raceEnabled reports whether the race detector is on: it slows a scenario down about tenfold, so the tests
// run fewer of them.
const raceEnabled = true
