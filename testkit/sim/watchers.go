package sim

import (
	"github.com/ochopod/ochopod/actors/protocol"
	"github.com/ochopod/ochopod/actors/watchers"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/zk"
)

// watchMemory is what one watchers Props keeps across restarts of its actor (actors/watchers/actor.go).
type watchMemory struct {
	set *v1.WatchSet
	gen uint64
}

// watchersAdapter does what actors/watchers/actor.go does, against the sim.
type watchersAdapter struct {
	a      *actor
	s      *Sim
	mem    *watchMemory
	m      *watchers.Machine
	conn   zk.Conn
	timers map[uint64]clock.Timer
}

func newWatchersAdapter(a *actor, conn zk.Conn, mem *watchMemory) behaviour {
	m := watchers.NewMachine(watchers.MachineConfig{Backoff: a.s.topo.backoff, FirstGeneration: mem.gen})
	return &watchersAdapter{a: a, s: a.s, mem: mem, m: m, conn: conn, timers: map[uint64]clock.Timer{}}
}

func (x *watchersAdapter) start() {
	if x.mem.set != nil {
		x.apply(x.m.Handle(protocol.Input[*v1.WatchersInput](x.mem.set))) // a restart: arm the last set again
	}
}

func (x *watchersAdapter) release() {
	x.mem.gen = max(x.mem.gen, x.m.Generation())
	for _, t := range x.timers {
		t.Stop() // order does not matter: stopping has no effect on the schedule
	}
	x.timers = map[uint64]clock.Timer{}
}

func (x *watchersAdapter) receive(env envelope) int {
	switch msg := env.msg.(type) {
	case *v1.WatchSet:
		x.mem.set = msg
		return x.apply(x.m.Handle(protocol.Input[*v1.WatchersInput](msg)))
	case *v1.TimerFired:
		delete(x.timers, msg.GetEpoch())
		return x.apply(x.m.Handle(protocol.Input[*v1.WatchersInput](msg)))
	case *v1.NodeWatched, *v1.NodeChanged:
		return x.apply(x.m.Handle(protocol.Input[*v1.WatchersInput](msg)))
	}
	return 0
}

func (x *watchersAdapter) apply(effects []watchers.Effect) int {
	for _, e := range effects {
		x.do(e)
	}
	return countEffects(effects, func(e watchers.Effect) bool { _, ok := e.(watchers.Log); return ok })
}

func (x *watchersAdapter) do(e watchers.Effect) {
	s, conn := x.s, x.conn
	switch e := e.(type) {
	case watchers.Arm:
		s.goIO(x.a, "arm", func(t *task) { armWatch(t, conn, e) })
	case watchers.Notify:
		x.a.tell(x.a.parent, e.Message())
	case watchers.StartTimer:
		if t, ok := x.timers[e.Generation]; ok {
			t.Stop()
		}
		x.timers[e.Generation] = x.a.timer(e.After, &v1.TimerFired{Timer: e.Name, Epoch: e.Generation})
	case watchers.Log:
		// Debug-level chatter (stale events); the trace has the messages already.
	}
}
