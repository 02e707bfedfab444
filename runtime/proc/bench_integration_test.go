package proc_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/proc"
)

// BenchmarkIntegration_SpawnReap measures, with real processes, how long Spawn takes until the program runs
// (fork + exec, spawn-ms) and how long from the SIGKILL to the exit status reaching Done (reap-ms): the
// SIGCHLD → wait4 → route path of the reaper.
func BenchmarkIntegration_SpawnReap(b *testing.B) {
	var spawnTotal, reapTotal time.Duration
	for b.Loop() {
		t0 := time.Now()
		p, err := reaper.Spawn(proc.Spec{Argv: []string{"sleep", "100"}})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := p.Signal(syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		<-p.Done()
		reapTotal += time.Since(t1)
		spawnTotal += t1.Sub(t0)
	}
	b.ReportMetric(float64(spawnTotal.Microseconds())/1000/float64(b.N), "spawn-ms/op")
	b.ReportMetric(float64(reapTotal.Microseconds())/1000/float64(b.N), "reap-ms/op")
}
