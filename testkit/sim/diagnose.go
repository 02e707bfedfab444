package sim

import (
	"log/slog"
	"slices"
	"strings"

	"github.com/ochopod/ochopod/actors/model"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Known production issues the simulation found (see doc.go for each). A failed scenario whose state matches
// one is labelled with its name in Result.Issue, so that a run of many seeds tells the known from the new.
// A label says the failure is consistent with the issue, not that nothing else went wrong.
const (
	// IssueDamperStall: the model's damper timer is dropped when a change arrives while it runs, and the
	// model stays "configuration pending" forever (actors/model/machine.go: read() bumps the generation the
	// damper timer was tagged with; onRead in phasePending assumes the damper still runs).
	IssueDamperStall = "damper-stall"
	// IssueEpochReuse: a restarted actor's machine counts its epochs from 0 again, so completions of the
	// previous incarnation's work (session events of its closed client, a registration, a listing) match
	// the new epoch and are acted on.
	IssueEpochReuse = "epoch-reuse"
	// IssueDuplicateContender: a leader restarted while its EnsureContender ran ends with two lock nodes of
	// one session and waits on its own older node forever: the cluster has no leader.
	IssueDuplicateContender = "duplicate-contender"
	// IssueStaleLeaderRole: the session keeps reporting the leader role after its leader child restarted and
	// did not get the lock back (the new incarnation never announces that it does not lead).
	IssueStaleLeaderRole = "stale-leader-role"
	// IssueUnadoptedSeq: a registration created a pod node that the pod never adopted (the seq write failed,
	// or the session restarted before the result arrived); a leader configured the cluster with that node's
	// sequence, and the pod then registered with another. Fixed where it was seen (a session expiring
	// between the create and the seq write): a leader counts a pod only once its payload holds its seq, and
	// watches the node until then. Left: a seq written and then lost with its result (an expiry between the
	// write and the session actor hearing of it); the label stays for that and for regressions.
	IssueUnadoptedSeq = "unadopted-seq"
	// IssueUnrecordedConfiguration: a pod keeps a configuration nobody recorded while the leader is idle on
	// the hash of the live pods. Seen two ways, both fixed (the label stays for regressions): a phase that
	// configured some pods and then failed, with the cluster back where the hash said (the leader now clears
	// the hash, fenced, before turning pods on); and an on of a dead leader's phase delivered after the new
	// leader's phase (pods now refuse off, on and ok of a phase other than their last check's).
	IssueUnrecordedConfiguration = "unrecorded-configuration"
	// IssueMissedChange: at quiescence a leader's model is idle on a hash that is not its cluster's any more:
	// it stopped reading. Seen with the damper's own generation (the fix of IssueDamperStall in the working
	// tree): when the damper fires while a retry waits, configure moves the generation, the retry timer is
	// then dropped, and `retrying` stays set, so every later change is only noted (readAgain), never read.
	IssueMissedChange = "missed-change"
	// IssueStaleIncarnationWrite: a model stopped (its leader restarted and won the same lock again, in the
	// same session) while its write was in flight; the write passes the fence (same lock node) after the new
	// model's, and ZooKeeper's hash is not what the idle leader believes. Fixed: the hash write is a
	// compare-and-set on the hash node's version read with the cluster (the label stays for regressions).
	IssueStaleIncarnationWrite = "stale-incarnation-write"
	// The crash fault's whole tree (root, lifecycle, executor) found four more, fixed (the labels stay for
	// regressions). IssueForgottenSeq: a restarted root forgot the pod's seq, its new session registered with
	// another (runtime/pod root.go now keeps the identity in its props).
	IssueForgottenSeq = "forgotten-seq"
	// IssueOrphanProcess: a restarted executor, or the executor of a restarted lifecycle, forgot the process
	// that ran and a second one started beside it (actors/executor Release now kills and reports it).
	IssueOrphanProcess = "orphan-process"
	// IssueForgottenConfiguration: a restarted lifecycle started blank, and the pod sat unconfigured until its
	// cluster changed (actors/lifecycle Machine.Resume now takes the last incarnation's configuration on).
	IssueForgottenConfiguration = "forgotten-configuration"
	// IssueForgottenDeath: a lifecycle that crashed with the pod's death queued (its process ended with 0
	// behind a hanging callback) lost it: the pod lingered registered, even leading (Machine.Resume now runs
	// the pod's own queued requests again).
	IssueForgottenDeath = "forgotten-death"
	// IssueHistoryBehindHash: the hash says a phase configured the cluster and the history does not have it:
	// the leader wrote the phase's entry after snapshot and hash, and its session ended between the two (seen
	// first in CI, where `ochopod ls` then showed the phase before for good). Fixed: the entry goes in the
	// same multi as snapshot and hash (actors/model WriteConfiguration); the label stays for regressions.
	IssueHistoryBehindHash = "history-behind-hash"
)

// seqConflict is the pod and seqs a failure of invariant (b) was about, for the diagnosis.
type seqConflict struct {
	key  string
	seqs []int64
}

// diagnose labels a failure with the known issue it is consistent with, "" for none. The failure's own
// words pick the candidates first (several issues can be present in one scenario), then the state decides.
func (s *Sim) diagnose() string {
	f := s.failure
	seqFailure := strings.Contains(f, ": (b) ")
	liveness := s.stage == "liveness"
	switch {
	case f == "":
		return ""
	case seqFailure && s.rootRestarted():
		return IssueForgottenSeq
	case seqFailure && s.actedOnStale():
		return IssueEpochReuse
	case seqFailure && s.unadoptedSeq():
		return IssueUnadoptedSeq
	case seqFailure:
		return ""
	case strings.Contains(f, ": (e) "):
		return IssueOrphanProcess
	case strings.Contains(f, "its lifecycle forgot"):
		return IssueForgottenConfiguration
	case liveness && historyBehindHash(f):
		return IssueHistoryBehindHash
	case liveness && s.forgottenDeath():
		return IssueForgottenDeath
	case strings.Contains(f, "no leader") && s.duplicateContender():
		return IssueDuplicateContender
	case strings.Contains(f, "leader role") && s.staleLeaderRole():
		return IssueStaleLeaderRole
	case liveness && s.modelPending():
		return IssueDamperStall
	case liveness && s.missedChange():
		return IssueMissedChange
	case liveness && s.unrecordedConfiguration():
		return IssueUnrecordedConfiguration
	case liveness && s.staleIncarnationWrite():
		return IssueStaleIncarnationWrite
	case s.duplicateContender():
		return IssueDuplicateContender
	case s.staleLeaderRole():
		return IssueStaleLeaderRole
	case s.actedOnStale():
		return IssueEpochReuse
	}
	return ""
}

// historyBehindHash: the failure is historyConverged's about the hash's phase.
func historyBehindHash(f string) bool {
	for _, s := range []string{"ok phase of the history", "no ok phase in the history", "and no history"} {
		if strings.Contains(f, s) {
			return true
		}
	}
	return false
}

// duplicateContender: some pod's current session owns two lock nodes of its cluster.
func (s *Sim) duplicateContender() bool {
	for _, c := range s.clusters {
		coord, ok := s.srv.Node(c.zc.Coordinator())
		if !ok {
			continue
		}
		owners := map[int64]int{}
		for _, name := range coord.Children {
			if n, ok := s.srv.Node(c.zc.Coordinator() + "/" + name); ok && n.Stat.EphemeralOwner != 0 {
				owners[n.Stat.EphemeralOwner]++
			}
		}
		for _, p := range c.pods {
			if sa := p.sessionOf(); p.state != podGone && sa != nil && sa.conn() != nil && owners[sa.conn().SessionID()] > 1 {
				return true
			}
		}
	}
	return false
}

// staleLeaderRole: a session reports the leader role while its leader child does not hold that lock.
func (s *Sim) staleLeaderRole() bool {
	for _, p := range s.pods {
		sa := p.sessionOf()
		if p.state == podGone || sa == nil {
			continue
		}
		st := sa.status()
		if st.GetRole() != v1.Role_ROLE_LEADER {
			continue
		}
		if _, la := p.leaderOf(); la == nil || !la.belief().GetLeader() || la.belief().GetLockPath() != st.GetLockPath() {
			return true
		}
	}
	return false
}

// modelPending: at quiescence, a leader's model still waits to configure: its damper will never fire.
func (s *Sim) modelPending() bool {
	for _, p := range s.pods {
		_, la := p.leaderOf()
		if p.state == podGone || la == nil || la.worker() == nil || !la.worker().alive {
			continue
		}
		if modelStatus(la.worker()).GetState() == v1.ModelState_MODEL_STATE_PENDING {
			return true
		}
	}
	return false
}

// actedOnStale: a restarted session acted on what its previous incarnation started (see Result.Advisories).
func (s *Sim) actedOnStale() bool {
	for what := range s.advisories {
		if strings.HasPrefix(what, kindSession.String()+":") {
			return true
		}
	}
	return false
}

// unadoptedSeq: the seq invariant (b) tripped on was the sequence of a node one of the pod's registrations
// created but the pod never took as its seq.
func (s *Sim) unadoptedSeq() bool {
	if s.conflict == nil {
		return false
	}
	p := s.byKey[s.conflict.key]
	if p == nil {
		return false
	}
	for _, seq := range s.conflict.seqs {
		if slices.Contains(p.created, seq) && (!p.hasSeq || seq != p.seq) {
			return true
		}
	}
	return false
}

// rootRestarted: the pod of a seq conflict had its root restarted.
func (s *Sim) rootRestarted() bool {
	if s.conflict == nil {
		return false
	}
	p := s.byKey[s.conflict.key]
	return p != nil && p.root != nil && p.root.inc > 0
}

// forgottenDeath: a pod whose process ended with 0 is still not dead.
func (s *Sim) forgottenDeath() bool {
	for _, p := range s.pods {
		if p.state == podDying && p.status.GetProcess() != v1.ProcessState_PROCESS_STATE_DEAD {
			return true
		}
	}
	return false
}

// missedChange: a leader's model is idle on the hash in ZooKeeper, but the cluster's pods and dependencies
// hash to something else.
func (s *Sim) missedChange() bool {
	for _, c := range s.clusters {
		for _, p := range c.pods {
			_, la := p.leaderOf()
			if !p.live() || la == nil || !la.belief().GetLeader() || la.worker() == nil || !la.worker().alive {
				continue
			}
			if modelStatus(la.worker()).GetState() != v1.ModelState_MODEL_STATE_IDLE {
				continue
			}
			cfg := s.machineConfig(c)
			read := model.ReadCluster(s.admin, cfg, nil, 0, noLog())
			if read.GetFailure() != nil {
				continue
			}
			deps := rawMap(read.GetDependencies())
			for name, snap := range deps {
				if string(snap) == "null" {
					deps[name] = []byte("{}")
				}
			}
			want, err := model.ReadHash(cfg, rawMap(read.GetPods()), deps, read.GetClusters())
			if err == nil && want != modelStatus(la.worker()).GetHash() {
				return true
			}
		}
	}
	return false
}

// unrecordedConfiguration: a cluster's leader is idle on the hash of its live pods, yet a live pod was last
// configured with other pods.
func (s *Sim) unrecordedConfiguration() bool {
	if s.stage != "liveness" {
		return false
	}
	for _, c := range s.clusters {
		var keys []string
		for _, p := range c.pods {
			if p.live() {
				keys = append(keys, p.key)
			}
		}
		slices.Sort(keys)
		for _, p := range c.pods {
			if p.live() && p.config != nil && !slices.Equal(p.config.keys, keys) {
				return true
			}
		}
	}
	return false
}

// recordCreated notes the sequence of a pod node a registration created, for the diagnosis.
func (s *Sim) recordCreated(name string) {
	if node, err := zk.ParsePodNode(name); err == nil {
		if p := s.byKey[node.Key]; p != nil {
			p.created = append(p.created, node.Seq)
		}
	}
}

// staleIncarnationWrite: a leader's model is idle believing the hash it wrote is ZooKeeper's, and it is not.
func (s *Sim) staleIncarnationWrite() bool {
	for _, c := range s.clusters {
		for _, p := range c.pods {
			_, la := p.leaderOf()
			if !p.live() || la == nil || !la.belief().GetLeader() || la.worker() == nil || !la.worker().alive {
				continue
			}
			if modelStatus(la.worker()).GetState() != v1.ModelState_MODEL_STATE_IDLE {
				continue
			}
			if n, ok := s.srv.Node(c.zc.Hash()); ok && string(n.Data) != modelStatus(la.worker()).GetHash() {
				return true
			}
		}
	}
	return false
}

// noLog discards the production functions' logs: the trace records what matters.
func noLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
