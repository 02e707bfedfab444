package sim

import (
	"github.com/ochopod/ochopod/actors/model"
	"github.com/ochopod/ochopod/actors/protocol"
	"github.com/ochopod/ochopod/actors/watchers"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	clusters "github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
)

// modelAdapter does what actors/model/actor.go does, against the sim; the configuration phase runs as sim
// events (phase.go) instead of RunPhase's goroutines.
type modelAdapter struct {
	a        *actor
	s        *Sim
	m        *model.Machine
	conn     zk.Conn
	lock     string
	timers   map[v1.Timer]clock.Timer
	watchers *actor
	phases   []*phaseRun // phases of this incarnation: stopping it cancels them (the adapter's ctx)
	pods     *clusters.PodReader
}

func newModelAdapter(a *actor, conn zk.Conn, lock string) behaviour {
	cfg := a.s.machineConfig(a.pod.cl)
	cfg.FirstGeneration = firstGeneration(a)
	return &modelAdapter{a: a, s: a.s, m: model.NewMachine(cfg), conn: conn, lock: lock, timers: map[v1.Timer]clock.Timer{}, pods: &clusters.PodReader{}}
}

func (x *modelAdapter) start() {
	// model.Config.Watchers: new Props, so a new memory, each time the model starts; the shipped behaviour.
	x.watchers = x.s.spawnHosted(x.a, watchers.Props(watchers.Config{Conn: x.conn, Backoff: x.s.topo.backoff}))
	x.apply(x.m.Start())
}

func (x *modelAdapter) release() {
	for _, ph := range x.phases {
		ph.cancel()
	}
	x.phases = nil
	for _, name := range sortedKeys(x.timers) {
		x.timers[name].Stop()
	}
	x.timers = map[v1.Timer]clock.Timer{}
}

func (x *modelAdapter) receive(env envelope) int {
	switch env.msg.(type) {
	case *v1.Changed, *v1.ClusterRead, *v1.PhaseDone, *v1.Written, *v1.TimerFired, *v1.CallbackDone:
		return x.apply(x.m.Handle(protocol.Input[*v1.ModelInput](env.msg)))
	}
	return 0
}

func (x *modelAdapter) apply(effects []model.Effect) int {
	for _, e := range effects {
		x.do(e)
	}
	return countEffects(effects, func(e model.Effect) bool {
		switch e.(type) {
		case model.Log, model.Publish, model.Configured:
			return true
		}
		return false
	})
}

func (x *modelAdapter) do(e model.Effect) {
	s, conn := x.s, x.conn
	c := x.a.pod.cl
	switch e := e.(type) {
	case model.Watch:
		x.a.tell(x.watchers, e.Set)
	case model.Read:
		cfg := s.machineConfig(c)
		pods := x.pods
		s.goIO(x.a, "read", func(t *task) { t.tell(model.ReadCluster(conn, cfg, pods, e.Generation, noLog())) })
	case model.Configure:
		live := x.phases[:0]
		for _, ph := range x.phases {
			if !ph.finished {
				live = append(live, ph)
			}
		}
		x.phases = append(live, s.startPhase(x.a, c, e, conn, x.lock))
	case model.Write:
		lock, skip := x.lock, s.opts.SkipFence
		s.goIO(x.a, "write", func(t *task) {
			commit := model.Commit(model.Fenced)
			if skip {
				commit = unfenced // the broken variant: no check of the lock node
			}
			t.tell(model.WriteConfiguration(conn, c.zc, lock, e.Generation, e.Pods, e.Hash, e.HashVersion, commit))
		})
	case model.History:
		lock, key := x.lock, x.a.pod.key
		s.goIO(x.a, "history", func(t *task) {
			if err := model.WriteHistory(conn, c.zc, lock, key, e.Entry); err != nil {
				s.trace(x.a.who, "log", nil, "cannot append the phase to the history: "+err.Error())
			}
		})
	case model.Probe:
		// The pods in the sim have no probe; should the model ask, the answer is a plain status.
		x.a.completion(&channel{}, &v1.CallbackDone{Callback: v1.Callback_CALLBACK_PROBE, Epoch: e.Generation, Result: []byte("ok")})
	case model.StartTimer:
		if t, ok := x.timers[e.Name]; ok {
			t.Stop()
		}
		x.timers[e.Name] = x.a.timer(e.After, &v1.TimerFired{Timer: e.Name, Epoch: e.Generation})
	case model.Configured:
		s.publish(x.a, e.Cluster)
	case model.Log:
		s.trace(x.a.who, "log", nil, e.Msg)
	}
}
