package sim

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ochopod/ochopod/actors/model"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

// Scale is the virtual-scale scenario (issue #18, part 4): many clusters of many pods with dependencies,
// the pods joining within a window of virtual time, a few membership faults, then every cluster must
// converge, and within two of its dampers of virtual time after the last change that affects it.
//
// The last change that affects a cluster is the later of: the last create or delete of a node under its
// own pods/ (a pod registering, deregistering, or its session ending), and the last time the snapshot of
// one of its dependencies changed content (written with other bytes, or removed with the session of the
// leader that wrote it). DESIGN §7: a dependent sees a dependency's new members only once the dependency
// converged and wrote its snapshot, so along a chain each link is measured from its dependency's write, not
// from the first change at the chain's root; a chain of k clusters may take k links of up to two dampers
// each. A cluster is converged at its last write of hash (its last phase's end); when that write precedes
// the last change, the change left the hash as it was (a flap within the damper, a snapshot rewritten with a
// new leader) and the delay is 0, which the convergence check of liveness.go confirms.
type Scale struct {
	Clusters int // 0: 500
	Pods     int // in all, spread evenly over the clusters; 0: 10 000
	// FanOut bounds the dependencies a cluster draws among the clusters before it (a DAG); about one
	// cluster in twenty depends on a wildcard naming a block of ten earlier ones instead. 0: 3.
	FanOut int
	// Dampers are the dampers the clusters draw from. nil: 5 s and 10 s. A change that lands while a phase
	// runs waits for that phase's write, then a whole damper, then a phase (actors/model's machine): the
	// cluster converges within a damper plus two phases, so two dampers hold only for a damper of at least
	// two phases. A sequential phase of 20 pods takes about a second of the sim's network latencies: with
	// 2 s, the slowest cluster took 1.89 dampers (testkit/README.md).
	Dampers []time.Duration
	// Window is the virtual time within which the pods start and the faults strike. 0: 10 s.
	Window time.Duration
	// Faults is how many membership faults (kill, leave, die, expire: each a change ZooKeeper shows)
	// strike within the window. Negative: none; 0: Pods/500.
	Faults int
}

// Defaults of Scale.
const (
	DefaultScaleClusters = 500
	DefaultScalePods     = 10000
	DefaultScaleFanOut   = 3
	DefaultScaleWindow   = 10 * time.Second
)

func (sc Scale) withDefaults() Scale {
	if sc.Clusters <= 0 {
		sc.Clusters = DefaultScaleClusters
	}
	if sc.Pods <= 0 {
		sc.Pods = DefaultScalePods
	}
	sc.Pods = max(sc.Pods, sc.Clusters)
	if sc.FanOut <= 0 {
		sc.FanOut = DefaultScaleFanOut
	}
	if len(sc.Dampers) == 0 {
		sc.Dampers = []time.Duration{5 * time.Second, 10 * time.Second}
	}
	if sc.Window <= 0 {
		sc.Window = DefaultScaleWindow
	}
	if sc.Faults == 0 {
		sc.Faults = sc.Pods / 500
	}
	return sc
}

// ScaleReport is what a Scale scenario measured, per damper.
type ScaleReport struct {
	Clusters, Pods int
	Depth          int           // the longest dependency chain, in clusters
	LastChange     time.Duration // the last change of any cluster, since the scenario began
	Dampers        []DamperFigures
}

// DamperFigures are the convergence delays of the clusters of one damper: from the last change that
// affects a cluster to its last hash write, in virtual time.
type DamperFigures struct {
	Damper       time.Duration
	Clusters     int
	Mean, Max    time.Duration
	MaxCluster   string // the cluster of Max
	WithinBudget bool   // Max ≤ 2 × Damper
}

// Slowest is the cluster of a report that took the most dampers to converge.
type Slowest struct {
	Cluster string
	Damper  time.Duration
	Delay   time.Duration
	Ratio   float64 // Delay / Damper: 2 at most for the scenario to pass
}

// Worst is the cluster that took the most dampers to converge.
func (r *ScaleReport) Worst() Slowest {
	var w Slowest
	for _, d := range r.Dampers {
		if ratio := float64(d.Max) / float64(d.Damper); w.Cluster == "" || ratio > w.Ratio {
			w = Slowest{Cluster: d.MaxCluster, Damper: d.Damper, Delay: d.Max, Ratio: ratio}
		}
	}
	return w
}

// String renders the report as a table.
func (r *ScaleReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d clusters, %d pods, longest dependency chain %d, last change at %s (virtual)\n",
		r.Clusters, r.Pods, r.Depth, r.LastChange.Round(time.Millisecond))
	fmt.Fprintf(&b, "%-8s %8s %12s %12s %8s  %s\n", "damper", "clusters", "mean delay", "max delay", "max/damp", "slowest")
	for _, d := range r.Dampers {
		fmt.Fprintf(&b, "%-8s %8d %12s %12s %8.2f  %s\n", d.Damper, d.Clusters, d.Mean.Round(time.Millisecond),
			d.Max.Round(time.Millisecond), float64(d.Max)/float64(d.Damper), d.MaxCluster)
	}
	return b.String()
}

// scaleState is what a Scale scenario tracks per cluster, from ZooKeeper's commits.
type scaleState struct {
	upstream   []*cluster    // the clusters it depends on, wildcards resolved
	podsAt     time.Duration // the last create or delete under its pods/
	snapAt     time.Duration // the last change of its snapshot's content
	snap       []byte        // and that content (nil: no snapshot)
	hasSnap    bool
	hashAt     time.Duration // its last hash write
	hashWrites int
}

// buildScale draws the Scale topology: clusters c000, c001, ... each depending on up to FanOut earlier
// ones (some on a wildcard block of ten), each with a damper of Scale.Dampers, the pods spread evenly.
func (s *Sim) buildScale() {
	sc := *s.opts.Scale
	s.topo = topology{sessionTimeout: 10 * time.Second, backoff: backoff.Default()}
	width := len(fmt.Sprint(sc.Clusters - 1))
	var names []string
	for i := range sc.Clusters {
		c := &cluster{idx: i, name: fmt.Sprintf("c%0*d", width, i), lastLockSeq: -1, scale: &scaleState{}}
		c.zc = zk.ClusterOf(namespace, c.name)
		c.damper = sc.Dampers[s.rng.IntN(len(sc.Dampers))]
		c.sequential = s.rng.IntN(4) == 0
		c.fullShutdown = s.rng.IntN(8) == 0
		c.initial = sc.Pods / sc.Clusters
		if i < sc.Pods%sc.Clusters {
			c.initial++
		}
		s.clusters = append(s.clusters, c)
		names = append(names, c.zc.Qualified)
	}
	s.indexClusters()
	for i, c := range s.clusters {
		switch {
		case i == 0:
		case i >= 10 && width > 1 && s.rng.IntN(20) == 0:
			// A block of ten earlier clusters: c01? is c010 ... c019.
			block := s.rng.IntN(i / 10)
			c.dependsOn = []string{fmt.Sprintf("c%0*d?", width-1, block)}
		default:
			for range s.rng.IntN(sc.FanOut + 1) {
				d := s.clusters[s.rng.IntN(i)].name
				if !slices.Contains(c.dependsOn, d) {
					c.dependsOn = append(c.dependsOn, d)
				}
			}
		}
		for _, q := range model.ResolveDependencies(namespace, c.zc.Qualified, c.dependsOn, names) {
			c.scale.upstream = append(c.scale.upstream, s.byName[q])
		}
	}
}

// indexClusters maps each cluster's qualified name to it, for clusterOf.
func (s *Sim) indexClusters() {
	s.byName = make(map[string]*cluster, len(s.clusters))
	for _, c := range s.clusters {
		s.byName[c.zc.Qualified] = c
	}
}

// clusterOf is the cluster a ZooKeeper path lies under, nil for none.
func (s *Sim) clusterOf(p string) *cluster {
	rest, ok := strings.CutPrefix(p, zk.Root+"/")
	if !ok {
		return nil
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return s.byName[rest]
}

// startScale starts every pod at a random moment of the window and schedules the faults within it.
func (s *Sim) startScale() {
	sc := *s.opts.Scale
	for _, c := range s.clusters {
		for range c.initial {
			s.at(time.Duration(s.rng.Int64N(int64(sc.Window))), func() { s.startPod(c) })
		}
	}
	for range max(sc.Faults, 0) {
		s.at(time.Duration(s.rng.Int64N(int64(sc.Window))), func() {
			if s.stage == "safety" {
				s.injectFault()
			}
		})
	}
}

// scaleFaults are the faults of a Scale scenario: membership changes ZooKeeper shows, from which the
// convergence delay is measured.
func scaleFaults() []fault {
	var out []fault
	for _, f := range faults() {
		switch f.name {
		case "kill", "leave", "die", "expire":
			out = append(out, f)
		}
	}
	return out
}

// faultTable is the faults this scenario draws from.
func (s *Sim) faultTable() []fault {
	if s.opts.Scale != nil {
		return scaleFaults()
	}
	return faults()
}

// observeCommit follows, for a Scale scenario, the changes each commit makes to the clusters' pods/,
// snapshots and hashes (run by zkmem after every commit).
func (s *Sim) observeCommit(v zkmem.View) error {
	now := s.now()
	for _, op := range v.LastCommit().Ops {
		c := s.clusterOf(op.Path)
		if c == nil {
			continue
		}
		st := c.scale
		switch {
		case path.Dir(op.Path) == c.zc.Pods(): // created, its seq written, deleted
			st.podsAt = now
		case op.Path == c.zc.Snapshot():
			n, ok := v.Node(op.Path)
			if ok != st.hasSnap || ok && string(n.Data) != string(st.snap) {
				st.snapAt, st.snap, st.hasSnap = now, n.Data, ok
			}
		case op.Path == c.zc.Hash() && op.Op == zkmem.OpSet:
			if n, _ := v.Node(op.Path); len(n.Data) > 0 { // not the clearing before "on" (DESIGN §7)
				st.hashAt = now
				st.hashWrites++
			}
		}
	}
	return nil
}

// scaleConverged checks the delays once every cluster converged, and fills the report.
func (s *Sim) scaleConverged() {
	sc := *s.opts.Scale
	rep := &ScaleReport{Clusters: len(s.clusters), Pods: len(s.pods)}
	figs := map[time.Duration]*DamperFigures{}
	depth := map[*cluster]int{}
	for _, c := range s.clusters { // clusters depend on earlier ones only
		depth[c] = 1
		for _, u := range c.scale.upstream {
			depth[c] = max(depth[c], depth[u]+1)
		}
		rep.Depth = max(rep.Depth, depth[c])
		last := c.scale.podsAt
		for _, u := range c.scale.upstream {
			last = max(last, u.scale.snapAt)
		}
		rep.LastChange = max(rep.LastChange, last)
		delay := max(c.scale.hashAt-last, 0)
		f := figs[c.damper]
		if f == nil {
			f = &DamperFigures{Damper: c.damper}
			figs[c.damper] = f
		}
		f.Clusters++
		f.Mean += delay
		if delay > f.Max || f.MaxCluster == "" {
			f.Max, f.MaxCluster = delay, c.name
		}
		if c.scale.hashWrites == 0 {
			s.fail("%s never wrote its hash", c.name)
		}
		if delay > 2*c.damper {
			s.fail("%s converged %s after its last change (at %s), more than two dampers of %s", c.name, delay, last, c.damper)
		}
	}
	for _, d := range sc.Dampers {
		if f := figs[d]; f != nil {
			f.Mean /= time.Duration(f.Clusters)
			f.WithinBudget = f.Max <= 2*d
			rep.Dampers = append(rep.Dampers, *f)
			delete(figs, d)
		}
	}
	s.scaleReport = rep
}

// runScale runs a Scale scenario: the topology, the pods joining and the faults striking within the
// window (the safety phase, invariants checked after every event as ever), then the liveness phase and its
// convergence check, then the delays.
func (s *Sim) runScale() {
	s.buildScale()
	s.trace("sim", "topology", nil, s.describeTopology())
	s.startScale()
	s.stage = "safety"
	s.maxSafety = s.opts.MaxLivenessEvents
	s.runFor(s.opts.Scale.Window)
	if s.failure == "" {
		s.liveness()
	}
	if s.failure == "" {
		s.scaleConverged()
	}
}
