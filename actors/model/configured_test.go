package model

import (
	"slices"
	"sync/atomic"
	"testing"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// configuredOf is the cluster of the Configured effect among effects, nil when there is none.
func configuredOf(effects []Effect) *v1.ClusterConfigured {
	c, _ := configuredEffect(effects)
	return c.Cluster
}

func configuredEffect(effects []Effect) (Configured, bool) {
	for _, e := range effects {
		if c, ok := e.(Configured); ok {
			return c, true
		}
	}
	return Configured{}, false
}

func byteKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// DESIGN §4 "Custom actors": the cluster as configured is published once its snapshot and hash are written,
// without the pods a phase dropped, with the dependencies as declared; never before the write, never for a
// fenced one.
func TestModel_ConfiguredIsPublishedOnceSnapshotAndHashAreWritten(t *testing.T) {
	m := newTestMachine(0, "db")
	deps := map[string][]byte{"ns.db": []byte(`{"d1":{"ip":"10.0.0.9"}}`)}
	for _, in := range []any{nil, &v1.ClusterRead{Generation: 1, Pods: pods("a", "b", "c"), Dependencies: deps}} {
		var effects []Effect
		if in == nil {
			effects = m.Start()
		} else {
			effects = m.Handle(input(in))
		}
		if c := configuredOf(effects); c != nil {
			t.Fatalf("configured before anything was written: %v", c)
		}
	}
	for _, in := range []any{&v1.TimerFired{Timer: timerDamper, Epoch: 2}, &v1.PhaseDone{Generation: 3, Dropped: []string{"b"}}} {
		if c := configuredOf(m.Handle(input(in))); c != nil {
			t.Fatalf("configured before the write: %v", c)
		}
	}
	e, ok := configuredEffect(m.Handle(input(&v1.Written{Generation: 4})))
	c := e.Cluster
	if !ok {
		t.Fatal("no ClusterConfigured once written")
	}
	// The leader-scope actors hear this one (source leader), named by the phase that configured it, as the
	// pods heard that phase's ok (actors/custom EventsOf).
	if c.GetSource() != v1.ConfiguredSource_CONFIGURED_SOURCE_LEADER || e.Generation != 3 {
		t.Fatalf("configured of source %s, phase generation %d, want the leader's, of the phase 3", c.GetSource(), e.Generation)
	}
	want := hashOf(t, pods("a", "b", "c"), map[string][]byte{"db": deps["ns.db"]})
	if got := byteKeys(c.GetPods()); !slices.Equal(got, []string{"a", "c"}) || c.GetHash() != want || c.GetCluster() != "ns.web" {
		t.Fatalf("configured %v hash %s cluster %s, want pods [a c] hash %s cluster ns.web", got, c.GetHash(), c.GetCluster(), want)
	}
	if string(c.GetDependencies()["db"]) != string(deps["ns.db"]) {
		t.Fatalf("dependencies %q, want db as declared", c.GetDependencies())
	}
}

// A new leader on a clean cluster rewrites the snapshot (DESIGN §7): that write publishes the cluster too, so a
// leader-scope actor started with the new leader hears it. A fenced write publishes nothing.
func TestModel_ConfiguredIsPublishedForACleanSnapshotAndNotWhenFenced(t *testing.T) {
	m := newTestMachine(0)
	m.Start()
	h := hashOf(t, pods("a", "b"), nil)
	m.Handle(input(read(1, pods("a", "b"), h)))
	if e, _ := configuredEffect(m.Handle(input(&v1.Written{Generation: 2}))); len(e.Cluster.GetPods()) != 2 || e.Cluster.GetHash() != h ||
		e.Generation != 0 || e.Cluster.GetSource() != v1.ConfiguredSource_CONFIGURED_SOURCE_LEADER {
		t.Fatalf("clean snapshot written: configured %v of phase %d, want pods a and b, hash %s, the leader's, of no phase", e.Cluster, e.Generation, h)
	}

	fenced := writingAfterPhase(t)
	if c := configuredOf(fenced.Handle(input(&v1.Written{Generation: 4, Failure: &v1.Failure{Kind: v1.ErrorKind_ERROR_KIND_FENCED}}))); c != nil {
		t.Fatalf("a fenced write published %v", c)
	}
}

// A restarted leader takes its own lock node again and makes a new model (leader.WorkerProps): the phases of
// every model made under one lock node get names of their own (PhaseID), when the models share their count
// (Config.Instances, as runtime/pod and the simulation wire it). Otherwise a pod would take a late request
// of the old model's phase for the new one's, and announce one configuration twice.
func TestModel_ModelsUnderOneLockNodeNameTheirPhasesApart(t *testing.T) {
	instances := new(atomic.Uint64)
	seen := map[string]bool{}
	for range 3 { // three leader terms under one lock node, each model restarted once
		props := Props(Config{LockPath: "/c/coordinator/x__lock__0000000001", Instances: instances})
		for range 2 {
			b := props.New().(*behaviour)
			id := PhaseID(b.cfg.LockPath, b.cfg.Machine.FirstGeneration+1)
			if seen[id] {
				t.Fatalf("phase %s named twice under one lock node", id)
			}
			seen[id] = true
		}
	}
}
