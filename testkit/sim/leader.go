package sim

import (
	"time"

	"github.com/ochopod/ochopod/actors/leader"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/zk"
)

// leaderAdapter does what actors/leader/actor.go does, against the sim.
type leaderAdapter struct {
	a      *actor
	s      *Sim
	m      *leader.Machine
	conn   zk.Conn
	timer  clock.Timer
	worker *actor
	lostAt time.Duration // when the sim saw the lock node it believes it holds gone; -1: it is there
}

func newLeaderAdapter(a *actor, conn zk.Conn) behaviour {
	cfg := leader.MachineConfig{Coordinator: a.pod.cl.zc.Coordinator(), Backoff: a.s.topo.backoff,
		FirstGeneration: firstGeneration(a)}
	return &leaderAdapter{a: a, s: a.s, m: leader.NewMachine(cfg), conn: conn, lostAt: -1}
}

func (x *leaderAdapter) start() { x.apply(x.m.Start()) }

// restarting mirrors actors/leader's Restarting: until the new incarnation wins again, we do not lead.
func (x *leaderAdapter) restarting() {
	if x.m.Leading() && x.a.parent != nil {
		x.a.tell(x.a.parent, &v1.LeadershipChanged{Leader: false, LockPath: x.m.LockPath()})
	}
}

func (x *leaderAdapter) release() {
	if x.timer != nil {
		x.timer.Stop()
	}
}

func (x *leaderAdapter) receive(env envelope) int {
	switch env.msg.(type) {
	case *v1.ContenderReady, *v1.ContendersListed, *v1.NodeWatched, *v1.NodeChanged, *v1.TimerFired:
		return x.apply(x.m.Handle(protocol.Input[*v1.LeaderInput](env.msg)))
	}
	return 0
}

func (x *leaderAdapter) apply(effects []leader.Effect) int {
	for _, e := range effects {
		x.do(e)
	}
	return countEffects(effects, func(e leader.Effect) bool { _, ok := e.(leader.Log); return ok })
}

func (x *leaderAdapter) do(e leader.Effect) {
	s, p, conn := x.s, x.a.pod, x.conn
	switch e := e.(type) {
	case leader.EnsureContender:
		dir, key := p.cl.zc.Coordinator(), p.key
		s.goIO(x.a, "contender", func(t *task) {
			path, err := leader.FindOrCreateContender(conn, dir, key, noLog())
			t.tell(&v1.ContenderReady{Generation: e.Generation, Path: path, Failure: protocol.Failure(err)})
		})
	case leader.ListContenders:
		dir := p.cl.zc.Coordinator()
		s.goIO(x.a, "list", func(t *task) {
			children, _, err := conn.Children(dir)
			t.tell(&v1.ContendersListed{Generation: e.Generation, Children: children, Failure: protocol.Failure(err)})
		})
	case leader.Watch:
		s.goIO(x.a, "watch", func(t *task) { existsWatch(t, conn, e.Generation, e.Path) })
	case leader.StartWorker:
		lock := e.LockPath
		x.worker = s.spawn(x.a, p, kindModel, func(a *actor) behaviour { return newModelAdapter(a, conn, lock) })
	case leader.StopWorker:
		if x.worker != nil {
			s.stop(x.worker)
			x.worker = nil
		}
	case leader.Announce:
		if x.a.parent != nil {
			x.a.tell(x.a.parent, &v1.LeadershipChanged{Leader: e.Leader, LockPath: e.LockPath, Generation: e.Generation})
		}
	case leader.StartTimer:
		if x.timer != nil {
			x.timer.Stop()
		}
		x.timer = x.a.timer(e.After, &v1.TimerFired{Timer: e.Name, Epoch: e.Generation})
	case leader.Log:
		s.trace(x.a.who, "log", nil, e.Msg)
	}
}
