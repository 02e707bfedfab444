//go:build race

package size_test

// scenarios is how many scenarios TestSize_SimulationUnderFaults runs by default: the race detector slows
// each down about tenfold.
const scenarios = 40
