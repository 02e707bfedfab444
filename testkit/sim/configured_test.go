package sim

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/custom"
	"github.com/ochopod/ochopod/actors/host"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// heardCluster is one ClusterConfigured a custom actor heard.
type heardCluster struct {
	incarnation uint64
	msg         *v1.ClusterConfigured
}

// recorder is a custom actor that keeps, by pod key, every ClusterConfigured it hears.
type recorder struct {
	heard map[string][]heardCluster
	env   custom.Env
}

func (r recorder) Started(host.Context)       {}
func (r recorder) Release(host.Context, bool) {}
func (r recorder) Receive(_ host.Context, m proto.Message) {
	if c, ok := m.(*v1.ClusterConfigured); ok {
		r.heard[r.env.Key] = append(r.heard[r.env.Key], heardCluster{r.env.Incarnation, c})
	}
}

func recorderActor(name string, scope custom.Scope, heard map[string][]heardCluster) custom.Actor {
	return custom.Actor{Name: name, Scope: scope, Supervisor: host.DefaultSupervisor(),
		New: func(env custom.Env) host.Behaviour { return recorder{heard: heard, env: env} }}
}

// recording runs a pod-scope recorder in every pod, and a leader-scope one, and checks once every cluster
// converged that each live pod's heard its pod's configurations: each of its pod (source pod, never the
// leader model's event of the same configuration), each once (one phase once per incarnation: a restarted
// one is told the last again), and, if the last ok the pod answered is of a phase that configured the
// cluster as it stands (the hash the leader wrote, as its leader-scope actor heard it), that configuration
// last: the snapshot's pods and the hash in ZooKeeper. A pod the ok did not reach (a partition: the leader
// ignores ok's replies) was not told, as its configured() was not called. followers counts the followers
// that heard the cluster's configuration.
func recording(followers *int) Options {
	pods, leaders := map[string][]heardCluster{}, map[string][]heardCluster{}
	return Options{
		Actors: []custom.Actor{recorderActor("recorder", custom.ScopePod, pods), recorderActor("leads", custom.ScopeLeader, leaders)},
		Converged: func(v View) error {
			var errs []error
			for _, c := range v.Clusters {
				snap, _, err := v.Conn.Get(c.Cluster.Snapshot())
				if err != nil {
					return fmt.Errorf("%s: snapshot: %w", c.Cluster.Qualified, err)
				}
				hash, _, err := v.Conn.Get(c.Cluster.Hash())
				if err != nil {
					return fmt.Errorf("%s: hash: %w", c.Cluster.Qualified, err)
				}
				var configured map[string]json.RawMessage
				if err := json.Unmarshal(snap, &configured); err != nil {
					return fmt.Errorf("%s: snapshot %q: %w", c.Cluster.Qualified, snap, err)
				}
				written := writtenHashes(leaders)
				for _, k := range c.Pods {
					answered := c.OK[k] != "" && written[c.OK[k]] == string(hash)
					err := checkHeard(k, c.Leader, pods[k], answered, slices.Sorted(maps.Keys(configured)), string(hash))
					if err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", c.Cluster.Qualified, err))
					} else if k != c.Leader && answered {
						*followers++
					}
				}
			}
			return errors.Join(errs...)
		},
	}
}

// writtenHashes is, by phase, the hash each leader wrote once the phase configured its cluster, as the
// leader-scope actors heard it (phase names are unique across leaders: their lock nodes name them).
func writtenHashes(leaders map[string][]heardCluster) map[string]string {
	out := map[string]string{}
	for _, heard := range leaders {
		for _, h := range heard {
			if p := h.msg.GetPhase(); p != "" {
				out[p] = h.msg.GetHash()
			}
		}
	}
	return out
}

func checkHeard(key, leader string, heard []heardCluster, answered bool, snapshot []string, hash string) error {
	role := "follower"
	if key == leader {
		role = "leader"
	}
	once := map[string]bool{}
	for _, h := range heard {
		if s := h.msg.GetSource(); s != v1.ConfiguredSource_CONFIGURED_SOURCE_POD {
			return fmt.Errorf("pod %s (%s): its pod-scope actor heard a ClusterConfigured of source %s (phase %s)", key, role, s, h.msg.GetPhase())
		}
		id := fmt.Sprintf("%d %s", h.incarnation, h.msg.GetPhase())
		if h.msg.GetPhase() == "" || once[id] {
			var all []string
			for _, h := range heard {
				all = append(all, fmt.Sprintf("#%d %s", h.incarnation, h.msg.GetPhase()))
			}
			return fmt.Errorf("pod %s (%s): its pod-scope actor heard phase %q twice or unnamed: %v", key, role, h.msg.GetPhase(), all)
		}
		once[id] = true
	}
	if !answered {
		return nil
	}
	if len(heard) == 0 {
		return fmt.Errorf("pod %s (%s) answered the ok of the cluster's configuration: its pod-scope actor heard no ClusterConfigured", key, role)
	}
	last := heard[len(heard)-1].msg
	if got := slices.Sorted(maps.Keys(last.GetPods())); !slices.Equal(got, snapshot) || last.GetHash() != hash {
		return fmt.Errorf("pod %s (%s) answered the ok of the cluster's configuration: last heard pods %v hash %s, the cluster is configured with %v hash %s",
			key, role, got, last.GetHash(), snapshot, hash)
	}
	return nil
}

// DESIGN §4 "Custom actors", under the simulation's faults: every pod's custom actors hear each
// configuration of their pod's cluster, followers as the leader's pod, once each, as the pod was configured
// (the lifecycle announces the ok of each phase). Fails if followers hear nothing (only the leader's model
// published it) or the leader's pod hears a configuration twice (its lifecycle's and its model's).
func TestSim_EveryPodsActorsHearEachConfiguration(t *testing.T) {
	faults, followers := 0, 0
	for seed := uint64(1); seed <= 40; seed++ {
		opts := recording(&followers)
		res, err := Run(seed, opts)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, res.Report())
		}
		faults += res.Faults
	}
	if faults == 0 || followers < 40 {
		t.Fatalf("%d faults, %d followers heard their cluster's configuration: too little was tested", faults, followers)
	}
	t.Logf("%d faults, %d followers heard their cluster's configuration", faults, followers)
}

// One seed, one trace, with the recorder heard in it: the pods' ClusterConfigured are part of the schedule.
func TestSim_SameSeedSameTraceWithPodScopeActors(t *testing.T) {
	for _, seed := range []uint64{3, 11} {
		var texts [2]string
		for i := range texts {
			opts := recording(new(int))
			opts.KeepTrace = true
			res, err := Run(seed, opts)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			texts[i] = strings.Join(res.Trace, "\n")
		}
		a, b := sha256.Sum256([]byte(texts[0])), sha256.Sum256([]byte(texts[1]))
		if a != b {
			t.Fatalf("seed %d: two runs differ (%x vs %x)", seed, a[:8], b[:8])
		}
		if n := strings.Count(texts[0], "ClusterConfigured"); n == 0 {
			t.Fatalf("seed %d: no ClusterConfigured in the trace", seed)
		}
		t.Logf("seed %d: sha256 %x, %d ClusterConfigured in the trace", seed, a[:8], strings.Count(texts[0], "ClusterConfigured"))
	}
}
