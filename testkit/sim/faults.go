package sim

import (
	"fmt"
	"path"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

// maxPods bounds the running pods of a cluster, so joins do not grow a scenario without end.
const maxPods = 7

// fault is one kind of fault, its weight in the draw, and how to inject it; inject reports false when it
// found nothing to act on (the draw is then repeated).
type fault struct {
	name   string
	weight int
	inject func(s *Sim) bool
}

// faults is the fault table. It is a function, not a package variable: no package-level mutable state.
func faults() []fault {
	return []fault{
		{"kill", 10, (*Sim).faultKill},
		{"leave", 6, (*Sim).faultLeave},
		{"die", 4, (*Sim).faultDie},
		{"join", 8, (*Sim).faultJoin},
		{"flap", 4, (*Sim).faultFlap},
		{"expire", 8, (*Sim).faultExpire},
		{"disconnect", 10, (*Sim).faultDisconnect},
		{"partition", 6, (*Sim).faultPartition},
		{"crash", 12, (*Sim).faultCrash},
		{"fail-op", 8, (*Sim).faultFailOp},
		{"reset", 4, (*Sim).faultReset},
		{"delete-lock", 3, (*Sim).faultDeleteLock},
		{"refuse", 3, (*Sim).faultRefuse},
		{"crash-process", 4, (*Sim).faultCrashProcess},
		{"http-partition", 4, (*Sim).faultHTTPPartition},
		{"port-refused", 3, (*Sim).faultPortRefused},
		{"slow", 3, (*Sim).faultSlow},
		{"stall", 3, (*Sim).faultStall},
	}
}

// injectFault draws faults until one applies (a few tries: early on, some find nothing to act on).
func (s *Sim) injectFault() {
	table := s.faultTable()
	total := 0
	for _, f := range table {
		total += f.weight
	}
	for range 8 {
		r := s.rng.IntN(total)
		for _, f := range table {
			if r < f.weight {
				if f.inject(s) {
					s.faults++
					s.poll()
					s.checkSafety()
					return
				}
				break
			}
			r -= f.weight
		}
	}
}

func (s *Sim) faultTrace(what string, args ...any) {
	s.trace("fault", what, nil, fmt.Sprint(args...))
}

// pick returns a random element, or the zero value for none.
func pick[T any](s *Sim, list []T) (T, bool) {
	var zero T
	if len(list) == 0 {
		return zero, false
	}
	return list[s.rng.IntN(len(list))], true
}

// running lists the pods whose process runs.
func (s *Sim) running() []*pod {
	var out []*pod
	for _, p := range s.pods {
		if p.state != podGone {
			out = append(out, p)
		}
	}
	return out
}

// sessions lists the pods' live clients, in pod order.
func (s *Sim) sessions() []zk.Conn {
	var out []zk.Conn
	for _, p := range s.running() {
		if sa := p.sessionOf(); sa != nil && sa.conn() != nil {
			out = append(out, sa.conn())
		}
	}
	return out
}

func (p *pod) sessionOf() *hostedSession {
	if p.session == nil || !p.session.alive {
		return nil
	}
	sa, _ := p.session.impl.(*hostedSession)
	return sa
}

func (s *Sim) faultKill() bool {
	p, ok := pick(s, s.running())
	if !ok {
		return false
	}
	s.faultTrace("kill", p.key)
	p.exit(true)
	return true
}

func (s *Sim) faultLeave() bool {
	p, ok := pick(s, s.livePods())
	if !ok {
		return false
	}
	s.faultTrace("leave", p.key)
	p.leave()
	return true
}

// faultDie is the pod's process ending with 0 (DESIGN §6: the work is done): the lifecycle dies, and the pod
// with it (world.go).
func (s *Sim) faultDie() bool {
	p, ok := pick(s, s.withProcess())
	if !ok {
		return false
	}
	s.faultTrace("die", p.key)
	p.ended(0)
	p.state = podDying
	return true
}

// faultCrashProcess is the pod's process failing: the lifecycle restarts it.
func (s *Sim) faultCrashProcess() bool {
	p, ok := pick(s, s.withProcess())
	if !ok {
		return false
	}
	s.faultTrace("crash-process", p.key)
	p.ended(1 + s.rng.IntN(2))
	return true
}

// withProcess lists the live pods whose process runs.
func (s *Sim) withProcess() []*pod {
	var out []*pod
	for _, p := range s.livePods() {
		if p.running() != nil {
			out = append(out, p)
		}
	}
	return out
}

func (s *Sim) livePods() []*pod {
	var out []*pod
	for _, p := range s.pods {
		if p.live() {
			out = append(out, p)
		}
	}
	return out
}

func (s *Sim) runningIn(c *cluster) int {
	n := 0
	for _, p := range c.pods {
		if p.state != podGone {
			n++
		}
	}
	return n
}

func (s *Sim) faultJoin() bool {
	c, _ := pick(s, s.clusters)
	if s.runningIn(c) >= maxPods {
		return false
	}
	p := s.startPod(c)
	s.faultTrace("join", p.key)
	return true
}

// faultFlap is a pod joining and leaving within its cluster's damper (or half a second without one).
func (s *Sim) faultFlap() bool {
	c, _ := pick(s, s.clusters)
	if s.runningIn(c) >= maxPods {
		return false
	}
	p := s.startPod(c)
	within := max(c.damper, 500*time.Millisecond)
	d := time.Duration(s.rng.Int64N(int64(within)))
	s.faultTrace("flap", p.key, " leaves in ", d)
	s.at(d, func() {
		if s.stage == "safety" { // faults stop with the liveness phase
			p.leave()
		}
	})
	return true
}

func (s *Sim) faultExpire() bool {
	c, ok := pick(s, s.sessions())
	if !ok {
		return false
	}
	s.faultTrace("expire", "session ", c.SessionID())
	_ = s.srv.Expire(c.SessionID())
	return true
}

// faultDisconnect cuts one client off for less than the session timeout: the session survives.
func (s *Sim) faultDisconnect() bool {
	c, ok := pick(s, s.sessions())
	if !ok {
		return false
	}
	d := time.Duration(s.rng.Int64N(int64(s.topo.sessionTimeout * 9 / 10)))
	s.faultTrace("disconnect", "session ", c.SessionID(), " for ", d)
	s.cut([]int64{c.SessionID()}, d)
	return true
}

// faultPartition cuts a few pods off for up to twice the session timeout: their sessions may expire.
func (s *Sim) faultPartition() bool {
	var ids []int64
	for _, p := range s.running() {
		if s.rng.IntN(3) != 0 {
			continue
		}
		for _, c := range p.conns {
			ids = append(ids, c.SessionID())
		}
	}
	if len(ids) == 0 {
		return false
	}
	d := time.Duration(s.rng.Int64N(int64(2 * s.topo.sessionTimeout)))
	s.faultTrace("partition", fmt.Sprint(ids), " for ", d)
	s.cut(ids, d)
	return true
}

func (s *Sim) cut(ids []int64, d time.Duration) {
	_ = s.srv.Partition(ids...)
	for _, id := range ids {
		if c, ok := s.cuts[id]; !ok || c.to >= 0 {
			s.cuts[id] = &cutSpan{from: s.now(), to: -1}
		}
	}
	s.at(d, func() {
		for _, id := range ids {
			_ = s.srv.Reconnect(id)
			s.healed(id)
		}
	})
}

// healed notes that a session's connection is back.
func (s *Sim) healed(id int64) {
	if c, ok := s.cuts[id]; ok && c.to < 0 {
		c.to = s.now()
	}
}

// faultCrash makes one of a pod's actors panic, anywhere in its tree (the root, the session and below it, the
// lifecycle and its executor, the custom actors); the supervisor it states restarts it (actor.go).
func (s *Sim) faultCrash() bool {
	var all []*actor
	var walk func(a *actor)
	walk = func(a *actor) {
		if a == nil || !a.alive {
			return
		}
		all = append(all, a)
		for _, c := range a.children {
			walk(c)
		}
	}
	for _, p := range s.running() {
		walk(p.root)
	}
	a, ok := pick(s, all)
	if !ok || a.suspended {
		return false
	}
	s.faultTrace("crash", a.who)
	s.crash(a)
	return true
}

// faultFailOp makes a client's next call of some kind fail, before or after the server applied it.
func (s *Sim) faultFailOp() bool {
	c, ok := pick(s, s.sessions())
	if !ok {
		return false
	}
	ops := []zkmem.OpName{zkmem.OpCreate, zkmem.OpDelete, zkmem.OpExists, zkmem.OpGet, zkmem.OpChildren,
		zkmem.OpSet, zkmem.OpMulti, zkmem.OpAny}
	op := ops[s.rng.IntN(len(ops))]
	if s.rng.IntN(3) == 0 {
		s.faultTrace("fail-after-apply", "session ", c.SessionID(), " ", op)
		_ = s.srv.FailNextAfterApply(c.SessionID(), op, zk.ErrConnectionLost)
		return true
	}
	s.faultTrace("fail-op", "session ", c.SessionID(), " ", op)
	_ = s.srv.FailNext(c.SessionID(), op, zk.ErrConnectionLost)
	return true
}

func (s *Sim) faultReset() bool {
	p, ok := pick(s, s.livePods())
	if !ok {
		return false
	}
	s.faultTrace("reset", p.key)
	p.toSession(&v1.ResetSession{Cause: "sim"})
	return true
}

// faultDeleteLock is an operator deleting the lock holder's node (DESIGN: the leader takes a new place).
func (s *Sim) faultDeleteLock() bool {
	c, _ := pick(s, s.clusters)
	return s.deleteLock(c)
}

func (s *Sim) deleteLock(c *cluster) bool {
	children, _, err := s.admin.Children(c.zc.Coordinator())
	if err != nil {
		return false
	}
	contenders, _ := zk.SortContenders(children)
	if len(contenders) == 0 {
		return false
	}
	p := path.Join(c.zc.Coordinator(), contenders[0].Name)
	s.faultTrace("delete-lock", p)
	return s.admin.Delete(p, zk.AnyVersion) == nil
}

// beforeMulti may strike right before a model's snapshot and hash write: an operator deletes the lock.
// That is the moment the fence exists for (a write in flight from a leader that just lost its lock).
func (s *Sim) beforeMulti(t *task) {
	if s.stage != "safety" || s.opts.FaultRate < 0 || t.name != "write" || s.rng.IntN(10) != 0 {
		return
	}
	cur := s.cur
	s.cur = nil // the operator's calls are the sim's own
	if s.deleteLock(t.owner.pod.cl) {
		s.faults++
	}
	s.cur = cur
}

// faultRefuse makes a pod's can_configure fail for a while: check answers 406, phases fail and retry.
func (s *Sim) faultRefuse() bool {
	p, ok := pick(s, s.livePods())
	if !ok || p.refuse {
		return false
	}
	d := 500*time.Millisecond + time.Duration(s.rng.Int64N(int64(20*time.Second)))
	s.faultTrace("refuse", p.key, " for ", d)
	p.refuse = true
	s.at(d, func() { p.refuse = false })
	return true
}

// The faults of the control ports (DESIGN §8), beside ZooKeeper's. The leader's per-pod timeout is the
// model's grace: the pod's handler answers 408 past it, the leader gives up 1.25 × grace after it sent.
const grace = 60 * time.Second

// faultHTTPPartition cuts a pod's control port off for up to twice the session timeout: requests and replies
// are lost, the leader waits for its timeout.
func (s *Sim) faultHTTPPartition() bool {
	p, ok := pick(s, s.livePods())
	if !ok {
		return false
	}
	d := time.Duration(s.rng.Int64N(int64(2 * s.topo.sessionTimeout)))
	s.faultTrace("http-partition", p.key, " for ", d)
	s.cutHTTP(p.addr(), true)
	p.faultGen++
	gen := p.faultGen
	s.at(d, func() {
		if p.faultGen == gen {
			s.cutHTTP(p.addr(), false)
		}
	})
	return true
}

// faultPortRefused closes a pod's control port for a few seconds: requests are refused.
func (s *Sim) faultPortRefused() bool {
	p, ok := pick(s, s.livePods())
	if !ok {
		return false
	}
	d := time.Duration(s.rng.Int64N(int64(5 * time.Second)))
	s.faultTrace("port-refused", p.key, " for ", d)
	s.unlisten(p.addr())
	p.faultGen++
	gen := p.faultGen
	s.at(d, func() {
		if p.faultGen == gen && p.state != podGone {
			s.listen(p.addr(), p.port)
		}
	})
	return true
}

// faultSlow makes a pod's control replies leave past the leader's timeout for a while.
func (s *Sim) faultSlow() bool {
	p, ok := pick(s, s.livePods())
	if !ok || p.slow > 0 {
		return false
	}
	late := grace*5/4 + time.Second + time.Duration(s.rng.Int64N(int64(20*time.Second)))
	d := time.Second + time.Duration(s.rng.Int64N(int64(20*time.Second)))
	s.faultTrace("slow", p.key, " replies ", late, " late for ", d)
	p.slow = late
	s.at(d, func() { p.slow = 0 })
	return true
}

// faultStall makes a pod's callbacks hang past the request's timeout for a while: its handler answers 408
// and the lifecycle's queue waits behind the callback.
func (s *Sim) faultStall() bool {
	p, ok := pick(s, s.livePods())
	if !ok || p.stalled > 0 {
		return false
	}
	hang := grace + time.Second + time.Duration(s.rng.Int64N(int64(10*time.Second)))
	d := time.Second + time.Duration(s.rng.Int64N(int64(20*time.Second)))
	s.faultTrace("stall", p.key, " callbacks hang ", hang, " for ", d)
	p.stalled = hang
	s.at(d, func() { p.stalled = 0 })
	return true
}
