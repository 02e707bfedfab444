package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/ochopod/ochopod/actors/model"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	clusters "github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
)

// quiet is how far ahead the liveness phase looks for pending events: with nothing due within it, the
// scenario is quiescent. It exceeds every delay in play (session timeout, backoffs, linger, restarts, the
// leader's per-pod timeout of 1.25 × grace and a request lost in a partition, http.go's connectTimeout).
const quiet = 3 * time.Minute

// liveness heals everything, stops the faults, runs until quiescent and checks convergence.
func (s *Sim) liveness() {
	s.stage = "liveness"
	s.trace("sim", "heal", nil, "")
	s.srv.Heal()
	for _, id := range sortedIDs(s.cuts) {
		s.healed(id)
	}
	for _, p := range s.pods {
		p.heal()
	}
	for _, c := range s.clusters {
		if !slices.ContainsFunc(c.pods, (*pod).live) {
			s.startPod(c) // the scheduler replaces a cluster's last pod
		}
	}
	s.poll()
	for n := 0; s.failure == ""; n++ {
		due, ok := s.clk.NextDue()
		if !ok || due.Sub(s.clk.Now()) > quiet {
			break
		}
		if n >= s.opts.MaxLivenessEvents {
			s.fail("not quiescent after %d events (a livelock?)", n)
			return
		}
		s.step()
	}
	if s.failure == "" {
		s.converged()
	}
}

// converged checks that every cluster settled: every live pod registered with its seq, one leader per
// cluster whose model is idle, the hash and snapshot in ZooKeeper those of the live pods and the
// dependencies' snapshots, and every live pod configured with exactly the live pods.
func (s *Sim) converged() {
	if err := s.srv.Check(); err != nil {
		s.fail("zkmem check: %v", err)
		return
	}
	for _, v := range s.srv.Violations() {
		s.fail("zkmem violation: %v", v)
		return
	}
	for _, c := range s.clusters {
		if err := s.clusterConverged(c); err != nil {
			s.fail("%s did not converge: %v", c.name, err)
			return
		}
	}
	if err := s.customConverged(); err != nil {
		s.fail("%v", err)
	}
}

func (s *Sim) clusterConverged(c *cluster) error {
	var keys []string
	var leader *pod
	for _, p := range c.pods {
		if p.state == podGone {
			continue
		}
		_, la := p.leaderOf()
		if !p.live() {
			if la != nil && la.belief().GetLeader() {
				return fmt.Errorf("pod %s is stopping yet leads", p.key)
			}
			continue
		}
		keys = append(keys, p.key)
		if err := s.podConverged(p); err != nil {
			return err
		}
		if p.sessionOf().status().GetRole() == v1.Role_ROLE_LEADER {
			if leader != nil {
				return fmt.Errorf("pods %s and %s both report the leader role", leader.key, p.key)
			}
			leader = p
		}
	}
	slices.Sort(keys)
	if leader == nil {
		return fmt.Errorf("no leader among %v", keys)
	}
	hash, err := s.leaderConverged(c, leader)
	if err != nil {
		return err
	}
	cfg := s.machineConfig(c)
	read := model.ReadCluster(s.admin, cfg, nil, 0, noLog())
	if read.GetFailure() != nil {
		return fmt.Errorf("read: %s", read.GetFailure().GetMessage())
	}
	if got := sortedKeys(read.GetPods()); !slices.Equal(got, keys) {
		return fmt.Errorf("pods/ holds %v, the live pods are %v", got, keys)
	}
	pods, deps := rawMap(read.GetPods()), rawMap(read.GetDependencies())
	for name, snap := range deps {
		if string(snap) == "null" {
			return fmt.Errorf("dependency %s has no snapshot", name)
		}
	}
	want, err := model.ReadHash(cfg, pods, deps, read.GetClusters())
	if err != nil {
		return err
	}
	if hash != want {
		return fmt.Errorf("hash %q in ZooKeeper, %q for the live pods and dependencies", hash, want)
	}
	if err := s.historyConverged(c, hash); err != nil {
		return err
	}
	snap, _, err := s.admin.Get(c.zc.Snapshot())
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	var inSnap map[string]json.RawMessage
	if err := json.Unmarshal(snap, &inSnap); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if got := sortedKeys(inSnap); !slices.Equal(got, keys) {
		return fmt.Errorf("the snapshot holds %v, the live pods are %v", got, keys)
	}
	for _, k := range keys {
		if !bytes.Equal(inSnap[k], pods[k]) {
			return fmt.Errorf("the snapshot's payload of %s is %s, its node's %s", k, inSnap[k], pods[k])
		}
		p := s.byKey[k]
		if p.config == nil {
			return fmt.Errorf("pod %s was never configured", k)
		}
		if !slices.Equal(p.config.keys, keys) {
			return fmt.Errorf("pod %s was last configured with %v, the live pods are %v", k, p.config.keys, keys)
		}
	}
	return nil
}

// podConverged: registered, connected, its node in place under its session, its seq the one it holds.
func (s *Sim) podConverged(p *pod) error {
	sa := p.sessionOf()
	if sa == nil || p.session.suspended {
		return fmt.Errorf("pod %s has no running session", p.key)
	}
	st := sa.status()
	if !st.GetRegistered() || !st.GetConnected() || sa.conn() == nil {
		return fmt.Errorf("pod %s is not registered (registered %v, connected %v)", p.key, st.GetRegistered(), st.GetConnected())
	}
	if !p.hasSeq || st.GetSeq() != p.seq {
		return fmt.Errorf("pod %s registered with seq %d, holds %d (%v)", p.key, st.GetSeq(), p.seq, p.hasSeq)
	}
	n, ok := s.srv.Node(st.GetPath())
	if !ok || n.Stat.EphemeralOwner != sa.conn().SessionID() {
		return fmt.Errorf("pod %s: its node %s is missing or not its session's", p.key, st.GetPath())
	}
	return p.processConverged()
}

// leaderConverged: the leader holds the lowest lock node of its session, its model runs idle on the hash
// in ZooKeeper, which it returns.
func (s *Sim) leaderConverged(c *cluster, p *pod) (string, error) {
	st := p.sessionOf().status()
	leaderActor, la := p.leaderOf()
	if la == nil || leaderActor.suspended || !la.belief().GetLeader() || la.belief().GetLockPath() != st.GetLockPath() {
		return "", fmt.Errorf("pod %s reports the leader role (lock %s) but its leader does not hold it", p.key, st.GetLockPath())
	}
	coord, _ := s.srv.Node(c.zc.Coordinator())
	contenders, _ := zk.SortContenders(coord.Children)
	if len(contenders) == 0 || path.Join(c.zc.Coordinator(), contenders[0].Name) != st.GetLockPath() {
		return "", fmt.Errorf("pod %s leads with %s, which is not the lowest contender", p.key, st.GetLockPath())
	}
	if la.worker() == nil || !la.worker().alive || la.worker().suspended {
		return "", fmt.Errorf("leader %s runs no model", p.key)
	}
	ms := modelStatus(la.worker())
	hash, _, err := s.admin.Get(c.zc.Hash())
	if err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	if ms.GetState() != v1.ModelState_MODEL_STATE_IDLE || ms.GetHash() != string(hash) {
		return "", fmt.Errorf("the model of leader %s is %s on hash %q (ZooKeeper: %q), last error %q", p.key,
			ms.GetState(), ms.GetHash(), hash, ms.GetLastError())
	}
	return string(hash), nil
}

func sortedIDs[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func rawMap(in map[string][]byte) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// historyConverged: the cluster's history (DESIGN §13) parses, keeps at most its bound, is in order of its
// phases' ends, and names only pods of the cluster as leaders; and the phase that configured the cluster, the
// hash, is its last ok entry (they are written in one multi). A failed phase's entry may be missing (it is
// written alone, and a leader can die first).
func (s *Sim) historyConverged(c *cluster, hash string) error {
	data, _, err := s.admin.Get(c.zc.History())
	if errors.Is(err, zk.ErrNoNode) {
		if hash != "" {
			return fmt.Errorf("hash %q and no history", hash)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	phases, err := clusters.ParseHistory(data)
	if err != nil {
		return err
	}
	if len(phases) > clusters.HistoryLimit {
		return fmt.Errorf("the history holds %d phases, more than %d", len(phases), clusters.HistoryLimit)
	}
	for i, ph := range phases {
		if i > 0 && ph.At < phases[i-1].At {
			return fmt.Errorf("history entry %d ended at %s, before entry %d (%s)", i, ph.At, i-1, phases[i-1].At)
		}
		if p := s.byKey[ph.Leader]; p == nil || p.cl != c {
			return fmt.Errorf("history entry %d names leader %q, no pod of the cluster", i, ph.Leader)
		}
	}
	if hash == "" {
		return nil
	}
	for i := len(phases) - 1; i >= 0; i-- {
		if phases[i].Outcome == model.OutcomeOK {
			if phases[i].Hash != hash {
				return fmt.Errorf("the last ok phase of the history configured %q, the hash is %q", phases[i].Hash, hash)
			}
			return nil
		}
	}
	return fmt.Errorf("hash %q and no ok phase in the history", hash)
}
