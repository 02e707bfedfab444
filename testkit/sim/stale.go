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

// contenderCreate may strike as a leader's contender create is about to go out (FindOrCreateContender listed
// no node of its session): the leader crashes, and the create is held up until the next incarnation, which
// restarts at once, listed the lock directory in turn and is about to create its own node. The held create
// then goes first, and its report comes late: the new incarnation takes its own, newer node for its place,
// while an older node of its session is ahead of it. Without the own-node branch of the leader's onListed
// it waits on that node for ever and the cluster has no leader (IssueDuplicateContender). When the next
// incarnation's create comes (or after a few seconds, if it never does), the held one goes on.
func (s *Sim) contenderCreate(t *task) {
	if t.name != "contender" || t.owner == nil || t.owner.kind != kindLeader {
		return
	}
	p := t.owner.pod
	if held := p.heldCreate; held != nil {
		if held != t {
			p.heldCreate = nil
			s.at(0, func() { s.release(held) })
			t.hold += time.Millisecond
		}
		return
	}
	if s.stage != "safety" || s.opts.FaultRate < 0 || !t.owner.alive || t.owner.suspended || t.inc != t.owner.inc ||
		s.rng.IntN(8) != 0 {
		return
	}
	leader := t.owner
	s.faultTrace("hold-contender", leader.who)
	s.faults++
	p.heldCreate, t.held = t, true
	s.at(0, func() { s.crash(leader) })
	s.at(5*time.Second, func() {
		if p.heldCreate == t {
			p.heldCreate = nil
			s.release(t)
		}
	})
}

// release lets a held contender create go on, its report to the leader two seconds late.
func (s *Sim) release(t *task) {
	t.ch.last = s.clk.Now().Add(2 * time.Second)
	s.wake(t)
}
