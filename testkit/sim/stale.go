package sim

import (
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
)

// holdWrite may strike as a model's snapshot and hash write is about to go out (zk.Fenced's multi): the
// model crashes, a pod joins its cluster, and the write is held up for a few seconds, long enough for the
// model's next incarnation, under the same lock, to configure the cluster with the new pod. The held write
// is then stale, and only the compare-and-set on the hash's version (DESIGN §7 step 4) stops it: the fence
// passes, the lock is the same. Without it the snapshot and hash go back to the older cluster, and the
// liveness phase finds the model idle on a hash ZooKeeper no longer holds. It reports whether it held t.
func (s *Sim) holdWrite(t *task) bool {
	if s.stage != "safety" || s.opts.FaultRate < 0 || t.name != "write" || t.owner == nil || !t.owner.alive ||
		t.owner.kind != kindModel || s.rng.IntN(10) != 0 {
		return false
	}
	model, c := t.owner, t.owner.pod.cl
	t.hold = 2*time.Second + time.Duration(s.rng.Int64N(int64(4*time.Second)))
	s.faultTrace("hold-write", model.who, " for ", t.hold)
	s.faults++
	s.at(0, func() {
		s.crash(model)
		if s.runningIn(c) < maxPods {
			s.faultTrace("join", s.startPod(c).key)
		}
	})
	return true
}

// deleteLockOnCrash may strike as a leader that holds the lock crashes and restarts at once: an operator
// deletes its lock node meanwhile, so its next incarnation takes a place behind the other contenders and
// does not lead. The session heard the crashed incarnation lead: it must hear that it no longer does
// (actors/leader Release), else it goes on reporting the leader role beside the new leader.
func (s *Sim) deleteLockOnCrash(a *actor) {
	if s.stage != "safety" || s.opts.FaultRate < 0 || a.kind != kindLeader {
		return
	}
	la, ok := a.impl.(*hostedLeader)
	if !ok || !la.leading() || s.rng.IntN(4) != 0 {
		return
	}
	lock := la.belief().GetLockPath()
	s.faultTrace("delete-lock", lock, " (its leader crashed)")
	if s.admin.Delete(lock, zk.AnyVersion) == nil {
		s.faults++
	}
}
