package size_test

import (
	"crypto/sha256"
	"flag"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/actors/custom"
	"github.com/ochopod/ochopod/examples/clustersize/size"
	"github.com/ochopod/ochopod/testkit/sim"
)

var flagN = flag.Int("size.n", scenarios, "how many scenarios TestSize_SimulationUnderFaults runs (300, 40 under -race)")

// options runs the size actor in every simulated pod and checks, once every cluster converged after the
// faults healed, that each cluster's node holds its size, written by its leader (size.Check).
func options() sim.Options {
	return sim.Options{
		Actors: []custom.Actor{size.Actor()},
		Converged: func(v sim.View) error {
			for _, c := range v.Clusters {
				if err := size.Check(v.Conn, c.Cluster, c.Pods, c.Leader); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// The actor runs in the simulation as it runs in a pod (pod.Config.Actors), under every fault of the
// simulation: pods killed, leaving, joining, partitions, session expiries, crashes of the leader-scope
// actors among others, the lock holder's node deleted by an operator. Invariant (a) holds its writes to the
// fence: only the lock holder ever writes under <cluster>/actors/.
func TestSize_SimulationUnderFaults(t *testing.T) {
	sum := sim.RunMany(1, *flagN, options())
	t.Log(sum.String())
	for _, f := range sum.Failures {
		t.Errorf("%s\nreplay: go test ./examples/clustersize/size -run TestSize_Replay -size.replay=%d", f.Report(), f.Seed)
	}
}

var flagReplay = flag.Uint64("size.replay", 0, "TestSize_Replay runs this seed and prints its whole trace")

func TestSize_Replay(t *testing.T) {
	if *flagReplay == 0 {
		t.Skip("give -size.replay=<seed>")
	}
	opts := options()
	opts.KeepTrace = true
	res, err := sim.Run(*flagReplay, opts)
	t.Log(strings.Join(res.Trace, "\n"))
	if err != nil {
		t.Fatal(err)
	}
}

// One seed, one trace: twice the same scenario gives byte-identical traces, the size actor's messages and
// writes in them.
func TestSize_SameSeedSameTrace(t *testing.T) {
	for _, seed := range []uint64{1, 7, 42} {
		opts := options()
		opts.KeepTrace = true
		first, err1 := sim.Run(seed, opts)
		second, err2 := sim.Run(seed, opts)
		if err1 != nil || err2 != nil {
			t.Fatalf("seed %d: %v / %v", seed, err1, err2)
		}
		a, b := sha256.Sum256([]byte(strings.Join(first.Trace, "\n"))), sha256.Sum256([]byte(strings.Join(second.Trace, "\n")))
		if a != b {
			for i := range min(len(first.Trace), len(second.Trace)) {
				if first.Trace[i] != second.Trace[i] {
					t.Fatalf("seed %d: the traces differ at line %d:\n  %s\n  %s", seed, i, first.Trace[i], second.Trace[i])
				}
			}
			t.Fatalf("seed %d: the traces differ in length: %d and %d lines", seed, len(first.Trace), len(second.Trace))
		}
		var spawned, written int
		for _, l := range first.Trace {
			if strings.Contains(l, "custom:size#") && strings.Contains(l, " spawn") {
				spawned++
			}
			if strings.Contains(l, "custom:size#") && strings.Contains(l, "NodeWritten") {
				written++
			}
		}
		if spawned == 0 || written == 0 {
			t.Fatalf("seed %d: the size actor is not in the trace (%d spawns, %d writes)", seed, spawned, written)
		}
		t.Logf("seed %d: %d lines, sha256 %x, %d spawns and %d writes of the size actor", seed, len(first.Trace), a[:8], spawned, written)
	}
}
