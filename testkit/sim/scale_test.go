package sim

import (
	"flag"
	"testing"
)

var (
	flagScaleClusters = flag.Int("sim.scale.clusters", 0, "TestSim_Scale's clusters (0: 50, 10 under -race)")
	flagScalePods     = flag.Int("sim.scale.pods", 0, "TestSim_Scale's pods in all (0: 1000, 100 under -race)")
)

// TestSim_Scale runs the virtual-scale scenario (issue #18) at a size CI affords: every cluster must
// converge, each within two of its dampers of virtual time after the last change that affects it (scale.go
// says what that is along a dependency chain). The full size is `go run ./testkit/sim/cmd/simrun -scale`.
func TestSim_Scale(t *testing.T) {
	defer fastGC()()
	sc := Scale{Clusters: 50, Pods: 1000}
	if raceEnabled {
		sc = Scale{Clusters: 10, Pods: 100}
	}
	if *flagScaleClusters > 0 {
		sc.Clusters = *flagScaleClusters
	}
	if *flagScalePods > 0 {
		sc.Pods = *flagScalePods
	}
	res, err := Run(*flagSeed, Options{Scale: &sc})
	if err != nil {
		t.Fatalf("%v\n%s", err, res.Report())
	}
	w := res.Scale.Worst()
	t.Logf("seed %d: every cluster within two dampers, the slowest %s within %.2f (damper %s); wall %s, %d events, %d faults, virtual %s\n%s",
		*flagSeed, w.Cluster, w.Ratio, w.Damper, res.Wall, res.Events, res.Faults, res.Virtual, res.Scale)
}
