package sim

import (
	"crypto/sha256"
	"strings"
	"testing"
)

// TestSim_WholePodsOneSeedOneOutcome runs whole pods (runtime/pod's root, session, leader, model, watchers,
// lifecycle, executor and the control handler) on zkmem, the simulated network of the control ports, fake
// processes and the virtual clock, under faults of ZooKeeper, of the control ports and of the processes,
// many times from one seed: every run gives the same trace, byte for byte (issue #14: a whole-pod test on
// goroutines gave 7 outcomes in 40 runs).
func TestSim_WholePodsOneSeedOneOutcome(t *testing.T) {
	runs := 100
	if raceEnabled {
		runs = 10
	}
	const seed = 7
	outcomes := map[[32]byte]int{}
	var first Result
	for i := range runs {
		res, err := Run(seed, Options{KeepTrace: true})
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, res.Report())
		}
		if i == 0 {
			first = res
		}
		outcomes[sha256.Sum256([]byte(strings.Join(res.Trace, "\n")))]++
	}
	if len(outcomes) != 1 {
		t.Fatalf("seed %d: %d distinct traces in %d runs, want 1", seed, len(outcomes), runs)
	}
	// The scenario is a whole-pod one: the pods' processes ran, their control ports answered the phases.
	var spawned, answered bool
	for _, line := range first.Trace {
		spawned = spawned || strings.Contains(line, " spawn pid ")
		answered = answered || strings.Contains(line, " http reply 200")
	}
	if !spawned || !answered {
		t.Fatalf("seed %d: processes spawned %v, control replies %v: not a whole-pod scenario", seed, spawned, answered)
	}
	t.Logf("seed %d: %d runs, 1 trace of %d lines, %d events, %d faults", seed, runs, len(first.Trace), first.Events, first.Faults)
}
