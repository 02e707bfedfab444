package main

import "runtime"

// tuneRuntime fits the Go runtime to an entrypoint that shares its container with the workload it supervises:
// GOMAXPROCS=1 unless the operator set GOMAXPROCS (getenv reads the environment). A pod does one request or
// one ZooKeeper event at a time, and a hand-off between goroutines on two threads costs futex calls and
// context switches, which are dear in a VM: on a 2-core VM one thread spends a third to a half less CPU on a
// control request (GOMAXPROCS=1 against 2 in the environment of BenchmarkIntegration_PhaseRequestCPU: 0.11-0.15
// ms against 0.26-0.34 with 10 pods) and leaves the other cores to the workload. A leader's phase is I/O-bound.
//
// GOGC stays Go's: a larger target saves a collection at start (~8 ms of CPU) but spreads each request's
// garbage over memory the process has not touched yet, and a page fault costs ~15-20 µs in a VM (the bench's
// faults/<task> columns): with GOGC=300 a request took three times the faults and ~30% more CPU.
func tuneRuntime(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}
