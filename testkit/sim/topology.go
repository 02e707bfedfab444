package sim

import (
	"fmt"
	"strings"
	"time"

	"github.com/ochopod/ochopod/actors/model"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/zk"
)

// namespace is where every simulated cluster lives.
const namespace = "sim"

// cluster is one simulated cluster and its model settings (DESIGN §7).
type cluster struct {
	idx          int
	name         string // short name, "c0"
	zc           zk.Cluster
	dependsOn    []string
	damper       time.Duration
	sequential   bool
	fullShutdown bool
	pods         []*pod // every pod ever started in it
	initial      int

	lastLockSeq int64 // the lock sequence of its last accepted fenced write; -1 before any

	believers []*hostedLeader // the leaders that believe they lead, as of the last check
	checked   []*hostedLeader // the believers invariant (c) last looked at
	zkDirty   bool            // a commit wrote under it since that check
	touched   bool            // listed in Sim.touched
	pass      uint64          // the safety check that last looked at it

	scale *scaleState // what a Scale scenario measures of it; nil otherwise
}

// topology is the scenario's shape, drawn from the seed.
type topology struct {
	sessionTimeout time.Duration
	backoff        backoff.Policy
}

// machineConfig is the model machine's settings for c, as runtime/pod's wiring sets them.
func (s *Sim) machineConfig(c *cluster) model.MachineConfig {
	return model.MachineConfig{
		Cluster: c.zc, Namespace: namespace, DependsOn: c.dependsOn,
		Damper: c.damper, RetryFloor: time.Second, Backoff: s.topo.backoff,
	}
}

// buildTopology draws 2-3 clusters of 1-5 pods, dependencies between some (cycles and wildcards included),
// each cluster's damper (0 or small) and phase settings, and the session timeout.
func (s *Sim) buildTopology() {
	s.topo = topology{
		sessionTimeout: []time.Duration{4 * time.Second, 10 * time.Second}[s.rng.IntN(2)],
		backoff:        backoff.Default(),
	}
	n := 2 + s.rng.IntN(2)
	for i := range n {
		c := &cluster{idx: i, name: fmt.Sprintf("c%d", i), lastLockSeq: -1}
		c.zc = zk.ClusterOf(namespace, c.name)
		c.damper = []time.Duration{0, 0, 300 * time.Millisecond, 2 * time.Second}[s.rng.IntN(4)]
		c.sequential = s.rng.IntN(2) == 0
		c.fullShutdown = s.rng.IntN(4) == 0
		c.initial = 1 + s.rng.IntN(5)
		s.clusters = append(s.clusters, c)
	}
	for _, c := range s.clusters {
		switch r := s.rng.IntN(10); {
		case r < 4: // no dependency
		case r < 9:
			d := s.clusters[s.rng.IntN(n)]
			if d != c {
				c.dependsOn = append(c.dependsOn, d.name)
			}
		default:
			c.dependsOn = append(c.dependsOn, "c*") // every other cluster, including ones that appear later
		}
	}
}

// describeTopology renders the topology on one line for reports (a Scale topology in summary: the seed
// draws it again).
func (s *Sim) describeTopology() string {
	if sc := s.opts.Scale; sc != nil {
		return fmt.Sprintf("scale: %d clusters, %d pods, fan-out %d, dampers %v, %d faults within %s",
			sc.Clusters, sc.Pods, sc.FanOut, sc.Dampers, max(sc.Faults, 0), sc.Window)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "session timeout %s;", s.topo.sessionTimeout)
	for _, c := range s.clusters {
		fmt.Fprintf(&b, " %s: %d pods, damper %s", c.name, c.initial, c.damper)
		if len(c.dependsOn) > 0 {
			fmt.Fprintf(&b, ", depends on %s", strings.Join(c.dependsOn, ","))
		}
		if c.sequential {
			b.WriteString(", sequential")
		}
		if c.fullShutdown {
			b.WriteString(", full shutdown")
		}
		b.WriteString(";")
	}
	return b.String()
}
