package model

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/delta"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Config is what the model actor needs. The leader spawns it with its client and lock (the fencing token).
type Config struct {
	Conn     zk.Conn
	LockPath string
	Machine  MachineConfig
	// Phase settings (DESIGN §7).
	Grace        time.Duration
	Sequential   bool
	FullShutdown bool
	Caller       control.Caller
	Clock        clock.Clock
	Logger       *slog.Logger
	// Watchers builds the child that keeps the ZooKeeper watches and reports Changed.
	Watchers func(conn zk.Conn) *actor.Props
	// Key is this pod's key; Probe, when set, is the user's probe (Machine.ProbeEvery sets its period).
	Key   string
	Probe func(ctx context.Context, c *sdk.Cluster) (string, error)
	// Base, when set, answers GetBase with this pod's base (the pod's root, from its lifecycle): the model's
	// guess of the bases of the pods the last phase configured (DESIGN §7, delta bodies).
	Base *actor.PID
}

// Props returns the props of a model actor.
func Props(cfg Config) *actor.Props {
	var instances atomic.Uint64 // each instance's generations start past the previous instance's
	return actor.PropsFromProducer(func() actor.Actor {
		c := cfg
		c.Machine.FirstGeneration = instances.Add(1) << 32
		return newAdapter(c)
	})
}

type adapter struct {
	cfg      Config
	log      *slog.Logger
	m        *Machine
	timers   map[v1.Timer]clock.Timer
	watchers *actor.PID
	pods     *cluster.PodReader // reads don't overlap: the machine has one in flight at most
	ctx      context.Context    // cancelled when the actor stops: ends a phase in flight
	cancel   context.CancelFunc
	bases    *delta.Tracker // each pod's base for delta bodies (DESIGN §7); phases never overlap
}

func newAdapter(cfg Config) *adapter {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &adapter{
		cfg: cfg, log: log.With("actor", "model", "cluster", cfg.Machine.Cluster.Qualified),
		m: NewMachine(cfg.Machine), timers: map[v1.Timer]clock.Timer{}, pods: &cluster.PodReader{}, ctx: ctx, cancel: cancel,
		bases: delta.NewTracker(),
	}
}

// Receive is the protoactor entry point.
func (a *adapter) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		if a.cfg.Watchers != nil {
			a.watchers = ctx.Spawn(a.cfg.Watchers(a.cfg.Conn))
		}
		if a.cfg.Base != nil {
			ctx.Request(a.cfg.Base, &v1.GetBase{}) // answered long before the pods are read, in practice
		}
		a.apply(ctx, a.m.Start())
	case *v1.Base:
		a.bases.Guess(msg.GetPods(), msg.GetDependencies())
	case *actor.Stopping, *actor.Restarting:
		a.cancel()
		for name, t := range a.timers {
			t.Stop()
			delete(a.timers, name)
		}
	case *v1.InjectCrash:
		panic(fmt.Sprintf("model: injected crash: %s", msg.GetReason()))
	case *v1.Changed, *v1.ClusterRead, *v1.PhaseDone, *v1.Written, *v1.TimerFired, *v1.CallbackDone:
		a.apply(ctx, a.m.Handle(protocol.Input[*v1.ModelInput](msg)))
	}
}

func (a *adapter) apply(ctx actor.Context, effects []Effect) {
	for _, e := range effects {
		a.do(ctx, e)
	}
}

func (a *adapter) do(ctx actor.Context, e Effect) {
	root, self := ctx.ActorSystem().Root, ctx.Self()
	tell := func(m any) { root.Send(self, m) }
	conn, cfg, log := a.cfg.Conn, a.cfg, a.log
	switch e := e.(type) {
	case Watch:
		if a.watchers != nil {
			ctx.Send(a.watchers, e.Set)
		}
	case Read:
		pods := a.pods
		go func() { tell(ReadCluster(conn, cfg.Machine, pods, e.Generation, log)) }()
	case Configure:
		phaseCtx, bodies := a.ctx, DeltaBodies(a.bases)
		go func() {
			start := cfg.Clock.Now()
			done := &v1.PhaseDone{Generation: e.Generation}
			defer func() { // DESIGN §13: the history entry's times, from the clock port
				end := cfg.Clock.Now()
				done.EndedUnixMs, done.DurationMs = end.UnixMilli(), end.Sub(start).Milliseconds()
				tell(done)
			}()
			plan, err := planPhase(cfg, e)
			plan.Phase = PhaseID(cfg.LockPath, e.Generation)
			plan.Bodies = bodies
			plan.Guard = func(context.Context) error { return HoldsLock(conn, cfg.LockPath) }
			plan.Arm = func(context.Context) error {
				err := ClearHash(conn, cfg.Machine.Cluster, cfg.LockPath, e.HashVersion)
				done.Armed = err == nil
				return err
			}
			if err == nil {
				done.Dropped, err = RunPhase(phaseCtx, cfg.Caller, plan)
			}
			if err != nil {
				done.Failure = protocol.Failure(err)
			}
		}()
	case Probe:
		probeCtx, probe, key := a.ctx, a.cfg.Probe, a.cfg.Key
		go func() { tell(runProbe(probeCtx, probe, key, e)) }()
	case Write:
		stopped := a.ctx
		go func() {
			if stopped.Err() != nil {
				return // this model stopped: a newer one (maybe under the same lock) owns the write now
			}
			tell(WriteConfiguration(conn, cfg.Machine.Cluster, cfg.LockPath, e.Generation, e.Pods, e.Hash, e.HashVersion, Fenced))
		}()
	case History:
		go func() {
			if err := WriteHistory(conn, cfg.Machine.Cluster, cfg.LockPath, cfg.Key, e.Entry); err != nil {
				log.Warn("cannot append the phase to the history", "err", err)
			}
		}()
	case StartTimer:
		if t, ok := a.timers[e.Name]; ok {
			t.Stop()
		}
		a.timers[e.Name] = a.cfg.Clock.AfterFunc(e.After, func() { tell(&v1.TimerFired{Timer: e.Name, Epoch: e.Generation}) })
	case Publish:
		ctx.ActorSystem().EventStream.Publish(e.Status)
	case Configured:
		ctx.ActorSystem().EventStream.Publish(e.Cluster)
	case Log:
		a.log.Log(context.Background(), e.Level, e.Msg, e.Args...)
	}
}

// planPhase turns what the machine read into the phase's requests: every pod gets the whole cluster.
func planPhase(cfg Config, e Configure) (PhasePlan, error) {
	w, err := WireOf(e.Pods, e.Dependencies)
	if err != nil {
		return PhasePlan{}, err
	}
	return PhasePlan{Pods: PhasePods(w.Pods), Wire: w, Grace: cfg.Grace, Sequential: cfg.Sequential,
		FullShutdown: cfg.FullShutdown, Clock: cfg.Clock}, nil
}

// runProbe calls the user's probe on the cluster the machine read; a panic in user code is an error.
func runProbe(ctx context.Context, probe func(context.Context, *sdk.Cluster) (string, error), key string, e Probe) (done *v1.CallbackDone) {
	done = &v1.CallbackDone{Epoch: e.Generation, Callback: v1.Callback_CALLBACK_PROBE}
	defer func() {
		if r := recover(); r != nil {
			done.Failure = protocol.Other(fmt.Sprintf("probe panicked: %v", r))
		}
	}()
	if probe == nil {
		return done
	}
	plan, err := planPhase(Config{}, Configure{Pods: e.Pods, Dependencies: e.Dependencies})
	if err != nil {
		done.Failure = protocol.Failure(err)
		return done
	}
	w := plan.Wire
	w.Key = key
	c, err := sdk.FromWire(w)
	if err != nil {
		done.Failure = protocol.Failure(err)
		return done
	}
	status, err := probe(ctx, c)
	if err != nil {
		done.Failure = protocol.Failure(err)
	}
	done.Result = []byte(status)
	return done
}

// HoldsLock checks that the lock node still exists and belongs to this session: a leader frozen past its
// session timeout learns here, before it touches any pod, that it was deposed.
func HoldsLock(c zk.Conn, lock string) error {
	ok, st, err := c.Exists(lock)
	switch {
	case err != nil:
		return fmt.Errorf("cannot check the leader lock %s: %w", lock, err)
	case !ok || st.EphemeralOwner != c.SessionID():
		return fmt.Errorf("%w: the leader lock %s is gone", zk.ErrFenced, lock)
	}
	return nil
}

// ClearHash records "not configured" (the empty hash) before the pods are turned on, fenced by the lock.
func ClearHash(c zk.Conn, cl zk.Cluster, lock string, version int32) error {
	if _, err := zk.Fenced(c, lock, zk.SetOp{Path: cl.Hash(), Data: []byte{}, Version: version}); err != nil {
		return fmt.Errorf("clear %s before turning the pods on: %w", cl.Hash(), err)
	}
	return nil
}
