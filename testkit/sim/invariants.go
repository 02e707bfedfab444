package sim

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

// The safety invariants. (a) and (b) on ZooKeeper's side run inside zkmem after every committed write; the
// rest run after every event and fault (checkSafety).
//
//	(a) a write of a cluster's snapshot or hash is accepted only from the session holding the lowest lock
//	    contender, and never from an older holder after a newer one wrote: leaders' writes never overlap.
//	(b) a pod's seq never changes: its session registers with it, its node carries it, every configuration
//	    gives it that seq, and no two pods of a configuration share one.
//	(c) at most one pod per cluster believes it leads while holding a live lock node of its session, and
//	    that node is the lowest contender.
//	(d) a pod that believes it leads learns that its lock node is gone within OverlapBound while connected,
//	    and steps down within SuspendAfter (a third of the session timeout) plus OverlapBound of being cut
//	    off: two leaders' beliefs overlap only that long.

// fencedWrites is invariant (a), run by zkmem after every commit.
func (s *Sim) fencedWrites(v zkmem.View) error {
	c := v.LastCommit()
	if c.Cause != "" {
		return nil // a session's end removing its snapshot node
	}
	for _, op := range c.Ops {
		cl := s.fencedTarget(op)
		if cl == nil {
			continue
		}
		err := s.holderWrote(v, cl, c.SessionID)
		if err != nil {
			s.fail("(a) zxid %d: %s %s: %v", c.Zxid, op.Op, op.Path, err)
			return err
		}
	}
	return nil
}

// fencedTarget is the cluster whose snapshot or hash op writes, nil for any other op. Creating an empty
// hash node (EnsurePath, by any pod) is not a leader's write.
func (s *Sim) fencedTarget(op zkmem.CommitOp) *cluster {
	c := s.clusterOf(op.Path) // the cluster whose node op.Path names or lies under: one lookup, not a scan
	if c == nil {
		return nil
	}
	switch op.Path {
	case c.zc.Snapshot():
		return c
	case c.zc.Hash():
		if op.Op == zkmem.OpSet {
			return c
		}
	case c.zc.History(): // DESIGN §13: fenced like the snapshot
		return c
	}
	if customNode(c, op.Path) { // DESIGN §4: a leader-scope custom actor's own nodes
		return c
	}
	return nil
}

func (s *Sim) holderWrote(v zkmem.View, cl *cluster, session int64) error {
	coord, _ := v.Node(cl.zc.Coordinator())
	contenders, _ := zk.SortContenders(coord.Children)
	if len(contenders) == 0 {
		return fmt.Errorf("written by session %d while nobody holds the lock", session)
	}
	holder := contenders[0]
	n, _ := v.Node(path.Join(cl.zc.Coordinator(), holder.Name))
	if n.Stat.EphemeralOwner != session {
		return fmt.Errorf("written by session %d, but the lock %s is session %d's", session, holder.Name, n.Stat.EphemeralOwner)
	}
	if holder.Seq < cl.lastLockSeq {
		return fmt.Errorf("written under lock sequence %d after a write under %d", holder.Seq, cl.lastLockSeq)
	}
	cl.lastLockSeq = holder.Seq
	return nil
}

// podSeqInZK is invariant (b) on the pod nodes, run by zkmem after every commit.
func (s *Sim) podSeqInZK(v zkmem.View) error {
	c := v.LastCommit()
	for _, op := range c.Ops {
		if op.Op != zkmem.OpCreate && op.Op != zkmem.OpSet || !strings.HasSuffix(path.Dir(op.Path), "/pods") {
			continue
		}
		node, err := zk.ParsePodNode(path.Base(op.Path))
		if err != nil {
			continue
		}
		if op.Op == zkmem.OpCreate {
			s.recordCreated(path.Base(op.Path))
		}
		owner := s.byKey[node.Key]
		if owner == nil || !owner.hasSeq {
			continue
		}
		n, _ := v.Node(op.Path)
		pl, err := payload.Parse(n.Data)
		if err != nil {
			continue
		}
		if seq, ok := pl.Seq(); ok && seq != owner.seq {
			err := fmt.Errorf("pod %s holds seq %d but %s carries seq %d", node.Key, owner.seq, op.Path, seq)
			s.seqFail(node.Key, []int64{seq}, "(b) zxid %d: %v", c.Zxid, err)
			return err
		}
	}
	return nil
}

// leaderOf is the pod's leader adapter and its actor, if a leader child runs (suspended or not).
func (p *pod) leaderOf() (*actor, *hostedLeader) {
	if p.session == nil || !p.session.alive {
		return nil, nil
	}
	sa, _ := p.session.impl.(*hostedSession)
	if sa == nil || sa.leader() == nil {
		return nil, nil
	}
	la, _ := sa.leader().impl.(*hostedLeader)
	return sa.leader(), la
}

// checkSafety runs invariants (c) and (d) after every event and fault, on the clusters the event touched
// (touch) and those with a believer whose lock is gone (whose deadline (d) runs with time alone). What
// they read of ZooKeeper is read again only when a commit touched the cluster or the set of pods that
// believe they lead changed since the last check.
func (s *Sim) checkSafety() {
	if s.failure != "" {
		return
	}
	now := s.now()
	s.pass++
	check := append(s.overdue, s.touched...)
	s.touched, s.overdue = s.touched[:0], check[:0:0]
	for _, c := range check {
		c.touched = false
		if c.pass == s.pass {
			continue // listed twice
		}
		c.pass = s.pass
		s.checkLeaders(c, now)
		if s.failure != "" {
			return
		}
		if slices.ContainsFunc(c.believers, func(la *hostedLeader) bool { return la.lostAt >= 0 }) {
			s.overdue = append(s.overdue, c)
		}
	}
}

// touch marks c for the next safety check: an event changed one of its actors or its nodes.
func (s *Sim) touch(c *cluster) {
	if c != nil && !c.touched {
		c.touched = true
		s.touched = append(s.touched, c)
	}
}

// touchLeader touches a's cluster when a is a leader that runs (a message, a task): whether a pod believes
// it leads changes only in its leader's incarnations (the actors' spawns, stops, crashes and restarts touch
// whatever their kind, and so do commits), so a message to any other actor leaves (c) and (d) as they were
// checked (the clusters whose (d) deadline runs are checked after every event regardless).
func (s *Sim) touchLeader(a *actor) {
	if a.kind == kindLeader {
		s.touch(a.pod.cl)
	}
}

// touchCommit is zkmem's hook after every commit: the clusters it wrote are touched.
func (s *Sim) touchCommit(v zkmem.View) error {
	for _, op := range v.LastCommit().Ops {
		if c := s.clusterOf(op.Path); c != nil {
			c.zkDirty = true
			s.touch(c)
		}
	}
	return nil
}

// checkLeaders is invariants (c) and (d) on one cluster.
func (s *Sim) checkLeaders(c *cluster, now time.Duration) {
	{
		believers := c.believers[:0]
		for _, p := range c.pods {
			if p.state == podGone {
				continue
			}
			if _, la := p.leaderOf(); la != nil && la.leading() {
				believers = append(believers, la)
			}
		}
		c.believers = believers
		if c.zkDirty || !slices.Equal(believers, c.checked) {
			c.zkDirty, c.checked = false, append(c.checked[:0], believers...)
			if !s.checkHolders(c, believers, now) {
				return
			}
		}
		for _, la := range believers {
			if la.lostAt < 0 {
				continue
			}
			limit := la.lostAt + s.opts.OverlapBound
			if cut, ok := s.cuts[la.conn.SessionID()]; ok {
				// Cut off, it steps down after SuspendAfter; back, it learns the news at once.
				limit = max(limit, cut.from+s.topo.sessionTimeout/3+s.opts.OverlapBound, cut.to+s.opts.OverlapBound)
			}
			if now > limit {
				s.fail("(d) pod %s still believes it leads %s with %s, gone for %s", la.a.pod.key, c.name, la.belief().GetLockPath(), now-la.lostAt)
				return
			}
		}
	}
}

// checkHolders is invariant (c) for one cluster, and notes when each believer's lock node went (for (d)).
func (s *Sim) checkHolders(c *cluster, believers []*hostedLeader, now time.Duration) bool {
	holders := 0
	for _, la := range believers {
		lock := la.belief().GetLockPath()
		n, ok := s.srv.Node(lock)
		if !ok || n.Stat.EphemeralOwner != la.conn.SessionID() {
			if la.lostAt < 0 {
				la.lostAt = now
			}
			continue
		}
		la.lostAt = -1
		holders++
		coord, _ := s.srv.Node(c.zc.Coordinator())
		if contenders, _ := zk.SortContenders(coord.Children); len(contenders) == 0 || contenders[0].Name != path.Base(lock) {
			s.fail("(c) pod %s believes it leads %s with %s, which is not the lowest contender", la.a.pod.key, c.name, lock)
			return false
		}
	}
	if holders > 1 {
		s.fail("(c) %d pods of %s believe they lead and hold a live lock node", holders, c.name)
		return false
	}
	return true
}
