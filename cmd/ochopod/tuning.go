package main

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/ochopod/ochopod/runtime/memlimit"
)

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
//
// The garbage is bounded instead by a soft memory limit (--memory-limit, see package memlimit) while the pod
// is small, unless the operator set GOMEMLIMIT: issue #18's soak pod keeps ~2 MB less garbage.
func tuneRuntime(getenv func(string) string, memoryLimit uint64) {
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	if getenv("GOMEMLIMIT") == "" && memoryLimit > 0 {
		memlimit.Keep(memoryLimit, nil) // for the process's life
	}
}

// parseSize reads a --memory-limit: bytes with an optional B, KiB, MiB or GiB suffix (GOMEMLIMIT's syntax),
// or off (0).
func parseSize(s string) (uint64, error) {
	if s == "off" {
		return 0, nil
	}
	unit := uint64(1)
	num := s
	for _, u := range []struct {
		suffix string
		bytes  uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			num, unit = strings.TrimSuffix(s, u.suffix), u.bytes
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n > (1<<63-1)/unit {
		return 0, fmt.Errorf("%q: want bytes with an optional B, KiB, MiB or GiB suffix, or off", s)
	}
	return n * unit, nil
}
