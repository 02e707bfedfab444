package leader

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/zk"
)

// WorkerProps builds what the leader runs while it holds the lock: the cluster model. lockPath is the fencing
// token for every write the worker makes (zk.Fenced).
type WorkerProps func(conn zk.Conn, lockPath string) *actor.Props

// Config is what the leader actor needs.
type Config struct {
	Conn    zk.Conn
	Cluster zk.Cluster
	Key     string // the pod's key: its contender is named after it and holds it (FindOrCreateContender)
	Backoff backoff.Policy
	Clock   clock.Clock
	Logger  *slog.Logger
	Worker  WorkerProps // nil: nothing runs under the lock
	// Supervisor handles the worker's failures (a crashed model restarts; the lock stays); nil: protoactor's default.
	Supervisor actor.SupervisorStrategy
}

// Props returns the props of a leader actor. It reports LeadershipChanged to its parent.
func Props(cfg Config) *actor.Props {
	opts := []actor.PropsOption{}
	if cfg.Supervisor != nil {
		opts = append(opts, actor.WithSupervisor(cfg.Supervisor))
	}
	var instances atomic.Uint64 // each instance's generations start past the previous instance's
	return actor.PropsFromProducer(func() actor.Actor { return newAdapter(cfg, instances.Add(1)<<32) }, opts...)
}

type adapter struct {
	cfg    Config
	log    *slog.Logger
	m      *Machine
	timer  clock.Timer
	worker *actor.PID
}

func newAdapter(cfg Config, firstGen uint64) *adapter {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("actor", "leader", "cluster", cfg.Cluster.Qualified)
	return &adapter{cfg: cfg, log: log, m: NewMachine(MachineConfig{Coordinator: cfg.Cluster.Coordinator(), Backoff: cfg.Backoff, FirstGeneration: firstGen})}
}

// Receive is the protoactor entry point.
func (a *adapter) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.apply(ctx, a.m.Start())
	case *actor.Restarting:
		// The new instance may not win the lock again: until it says so, we do not lead.
		if a.m.Leading() && ctx.Parent() != nil {
			ctx.Request(ctx.Parent(), &v1.LeadershipChanged{Leader: false, LockPath: a.m.LockPath()})
		}
		if a.timer != nil {
			a.timer.Stop()
		}
	case *actor.Stopping:
		// The parent stopped us and forgot our role. Our node goes with the session, or stays for a new
		// leader of this session to reuse.
		if a.timer != nil {
			a.timer.Stop()
		}
	case *v1.InjectCrash:
		if msg.GetTarget() != "" && msg.GetTarget() != "leader" {
			if a.worker != nil {
				ctx.Forward(a.worker)
			}
			return
		}
		panic(fmt.Sprintf("leader: injected crash: %s", msg.GetReason()))
	case *v1.ContenderReady, *v1.ContendersListed, *v1.NodeWatched, *v1.NodeChanged, *v1.TimerFired:
		a.apply(ctx, a.m.Handle(protocol.Input[*v1.LeaderInput](msg)))
	}
}

func (a *adapter) apply(ctx actor.Context, effects []Effect) {
	for _, e := range effects {
		a.do(ctx, e)
	}
}

func (a *adapter) do(ctx actor.Context, e Effect) {
	root, self, conn := ctx.ActorSystem().Root, ctx.Self(), a.cfg.Conn
	tell := func(m any) { root.Send(self, m) }
	switch e := e.(type) {
	case EnsureContender:
		dir, key, log := a.cfg.Cluster.Coordinator(), a.cfg.Key, a.log
		go func() {
			p, err := FindOrCreateContender(conn, dir, key, log)
			tell(&v1.ContenderReady{Generation: e.Generation, Path: p, Failure: protocol.Failure(err)})
		}()
	case ListContenders:
		dir := a.cfg.Cluster.Coordinator()
		go func() {
			children, _, err := conn.Children(dir)
			tell(&v1.ContendersListed{Generation: e.Generation, Children: children, Failure: protocol.Failure(err)})
		}()
	case Watch:
		go func() {
			ok, _, ch, err := conn.ExistsW(e.Path)
			tell(&v1.NodeWatched{Generation: e.Generation, Path: e.Path, Exists: ok, Failure: protocol.Failure(err)})
			if err != nil {
				return
			}
			ev, open := <-ch // one-shot; the client closes it when the session ends
			tell(&v1.NodeChanged{Generation: e.Generation, Path: e.Path, Event: protocol.Event(ev, open)})
		}()
	case StartWorker:
		if a.cfg.Worker != nil {
			a.worker = ctx.Spawn(a.cfg.Worker(conn, e.LockPath))
		}
	case StopWorker:
		if a.worker != nil {
			ctx.Stop(a.worker)
			a.worker = nil
		}
	case Announce:
		if ctx.Parent() != nil {
			// Request, not Send: the parent checks the sender to drop news from a leader it already stopped.
			ctx.Request(ctx.Parent(), &v1.LeadershipChanged{Leader: e.Leader, LockPath: e.LockPath, Generation: e.Generation})
		}
	case StartTimer:
		if a.timer != nil {
			a.timer.Stop()
		}
		a.timer = a.cfg.Clock.AfterFunc(e.After, func() { tell(&v1.TimerFired{Timer: e.Name, Epoch: e.Generation}) })
	case Log:
		a.log.Log(context.Background(), e.Level, e.Msg, e.Args...)
	}
}
