package model

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/delta"
	"github.com/ochopod/ochopod/runtime/payload"
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
	// Clock reads the phases' start and end for the history (DESIGN §13); timers are the host's.
	Clock clock.Clock
	// Watchers builds the child that keeps the ZooKeeper watches and reports Changed.
	Watchers func(conn zk.Conn) host.Props
	// Key is this pod's key; Probe, when set, is the user's probe (Machine.ProbeEvery sets its period).
	Key   string
	Probe func(ctx context.Context, c *sdk.Cluster) (string, error)
	// Base, when set, answers GetBase with this pod's base (the pod's root, from its lifecycle): the model's
	// guess of the bases of the pods the last phase configured (DESIGN §7, delta bodies).
	Base host.Ref
	// Supervisor restarts the model after a crash (the leader keeps the lock); zero: host.DefaultSupervisor().
	// Its phases state the same.
	Supervisor host.Supervisor
	// Instances counts the models made under one lock node: a restarted leader takes its own lock node again
	// and makes a new model, whose phases must still get names of their own (PhaseID), or a pod would take a
	// late request of the old model's phase for the new one's. Share one across the pod's sessions and
	// leaders; nil: the count starts with these props.
	Instances *atomic.Uint64
}

// Props returns the props of a model actor (DESIGN §4, §7): the machine's effects on the host. Its I/O runs
// as the host's tasks, its timers are the host's, and each configuration phase is a child (PhaseProps).
func Props(cfg Config) host.Props {
	if cfg.Supervisor == (host.Supervisor{}) {
		cfg.Supervisor = host.DefaultSupervisor()
	}
	instances := cfg.Instances // each instance's generations start past the previous instance's
	if instances == nil {
		instances = new(atomic.Uint64)
	}
	return host.Props{Name: "model", Supervisor: cfg.Supervisor, New: func() host.Behaviour {
		c := cfg
		c.Machine.FirstGeneration = instances.Add(1) << 32
		return newBehaviour(c)
	}}
}

type behaviour struct {
	cfg      Config
	m        *Machine
	timers   map[v1.Timer]host.Timer
	watchers host.Ref
	phases   map[uint64]host.Ref // the phase running, by generation
	pods     *cluster.PodReader  // reads don't overlap: the machine has one in flight at most
	ctx      context.Context     // cancelled when the incarnation ends: a probe or a write not begun stays undone
	cancel   context.CancelFunc
	bases    *delta.Tracker  // each pod's base for delta bodies (DESIGN §7); phases never overlap
	history  *HistoryLog     // the history node as this lock's holder writes it
	seen     map[string]bool // the pods of the last read (nil before the first); replaced, never changed
}

func newBehaviour(cfg Config) *behaviour {
	ctx, cancel := context.WithCancel(context.Background())
	return &behaviour{cfg: cfg, m: NewMachine(cfg.Machine), timers: map[v1.Timer]host.Timer{}, phases: map[uint64]host.Ref{},
		pods: &cluster.PodReader{}, ctx: ctx, cancel: cancel, bases: delta.NewTracker(),
		history: NewHistoryLog(cfg.Conn, cfg.Machine.Cluster, cfg.LockPath, cfg.Key)}
}

// Status is the machine's view. The simulation checks it at quiescence.
func (b *behaviour) Status() *v1.ModelStatus { return b.m.Status() }

func (b *behaviour) Started(ctx host.Context) {
	if b.cfg.Watchers != nil {
		b.watchers = ctx.Spawn(b.cfg.Watchers(b.cfg.Conn))
	}
	if b.cfg.Base != nil {
		ctx.Request(b.cfg.Base, &v1.GetBase{}) // answered long before the pods are read, in practice
	}
	b.apply(ctx, b.m.Start())
}

func (b *behaviour) Release(host.Context, bool) {
	b.cancel()
	for name, t := range b.timers {
		t.Stop()
		delete(b.timers, name)
	}
}

func (b *behaviour) Receive(ctx host.Context, msg proto.Message) {
	switch msg := msg.(type) {
	case *v1.InjectCrash:
		panic(fmt.Sprintf("model: injected crash: %s", msg.GetReason()))
	case *v1.Base:
		b.bases.Guess(msg.GetPods(), msg.GetDependencies())
	case *v1.PhaseDone:
		if ref, ok := b.phases[msg.GetGeneration()]; ok {
			ctx.Stop(ref)
			delete(b.phases, msg.GetGeneration())
		}
		b.apply(ctx, b.m.Handle(protocol.Input[*v1.ModelInput](msg)))
	case *v1.ClusterRead:
		b.noteSeen(msg)
		b.apply(ctx, b.m.Handle(protocol.Input[*v1.ModelInput](msg)))
	case *v1.Changed, *v1.Written, *v1.TimerFired, *v1.CallbackDone:
		b.apply(ctx, b.m.Handle(protocol.Input[*v1.ModelInput](msg)))
	}
}

// newPodWarmer is what a read calls with the pods it read (readCluster's podsRead): it has the caller, if it
// is a control.Warmer, open its connections to the pods that registered since the last read, valid ones only,
// so that the phase that configures them finds them open (over HTTPS, the TLS handshake made) instead of
// connecting on its way. It warms from the read's task, as soon as the pods are read: at damper 0 the phase
// starts once the read is over, and a handshake begun there ended in the new pod's check (3 pods: 1-2.5 ms,
// against 0.1-0.4 for a TCP connection). nil without a Warmer, or before the first read: its pods were warmed
// when the leader won the lock (runtime/pod warmUp).
func (b *behaviour) newPodWarmer() func(pods map[string][]byte) {
	w, ok := b.cfg.Caller.(control.Warmer)
	if !ok || b.seen == nil {
		return nil
	}
	seen := b.seen // the task reads it while the actor may replace it (noteSeen), never change it
	return func(pods map[string][]byte) {
		fresh := map[string]payload.Payload{}
		for key, raw := range pods {
			if seen[key] {
				continue
			}
			if p, err := payload.Parse(raw); err == nil && payload.Validate(p, payload.NoNode) == nil { // DESIGN §12
				fresh[key] = p
			}
		}
		if len(fresh) > 0 {
			w.Warm(ControlURLs(fresh))
		}
	}
}

// noteSeen remembers the pods of a read, for the next read's newPodWarmer; a failed read changes nothing.
func (b *behaviour) noteSeen(read *v1.ClusterRead) {
	if read.GetFailure() != nil {
		return
	}
	seen := make(map[string]bool, len(read.GetPods()))
	for key := range read.GetPods() {
		seen[key] = true
	}
	b.seen = seen
}

func (b *behaviour) apply(ctx host.Context, effects []Effect) {
	for _, e := range effects {
		b.do(ctx, e)
	}
}

func (b *behaviour) do(ctx host.Context, e Effect) {
	conn, cfg, history, log := b.cfg.Conn, b.cfg, b.history, ctx.Logger().With("cluster", b.cfg.Machine.Cluster.Qualified)
	switch e := e.(type) {
	case Watch:
		if b.watchers != nil {
			ctx.Send(b.watchers, e.Set)
		}
	case Read:
		pods, warm := b.pods, b.newPodWarmer()
		ctx.Go("read", func(t host.Task) { t.Tell(readCluster(conn, cfg.Machine, pods, e.Generation, log, warm)) })
	case Configure:
		pc, err := b.phase(e)
		if err != nil {
			ctx.Send(ctx.Self(), &v1.PhaseDone{Generation: e.Generation, Failure: protocol.Failure(err)})
			return
		}
		b.phases[e.Generation] = ctx.Spawn(PhaseProps(pc))
	case Probe:
		probeCtx, probe, key := b.ctx, b.cfg.Probe, b.cfg.Key
		ctx.Go("probe", func(t host.Task) { t.Tell(runProbe(probeCtx, probe, key, e)) })
	case Write:
		stopped := b.ctx
		ctx.Go("write", func(t host.Task) {
			if stopped.Err() != nil {
				return // this model stopped: a newer one (maybe under the same lock) owns the write now
			}
			t.Tell(WriteConfiguration(conn, cfg.Machine.Cluster, cfg.LockPath, e.Generation, e.Pods, e.Hash, e.HashVersion, history, e.History))
		})
	case History:
		ctx.Go("history", func(host.Task) {
			if err := history.Append(e.Entry); err != nil {
				log.Warn("cannot append the phase to the history", "err", err)
			}
		})
	case StartTimer:
		if t, ok := b.timers[e.Name]; ok {
			t.Stop()
		}
		b.timers[e.Name] = ctx.After(e.After, &v1.TimerFired{Timer: e.Name, Epoch: e.Generation})
	case Publish:
		ctx.Publish(e.Status)
	case Configured:
		if e.Generation != 0 {
			e.Cluster.Phase = PhaseID(cfg.LockPath, e.Generation) // as the pods heard it (?phase=)
		}
		ctx.Publish(e.Cluster)
	case Log:
		log.Log(context.Background(), e.Level, e.Msg, e.Args...)
	}
}

// phase is the configuration of Configure's phase: the plan, guarded by the lock and armed by clearing the
// hash (compare-and-set on the version read, fenced).
func (b *behaviour) phase(e Configure) (PhaseConfig, error) {
	cfg, conn := b.cfg, b.cfg.Conn
	pc := PhaseConfig{Caller: cfg.Caller, Generation: e.Generation, Clock: cfg.Clock, Supervisor: cfg.Supervisor}
	plan, err := planPhase(cfg, e)
	if err != nil {
		return pc, fmt.Errorf("configuration phase: %w", err)
	}
	plan.Phase = PhaseID(cfg.LockPath, e.Generation)
	plan.Bodies = DeltaBodies(b.bases)
	plan.Guard = func(context.Context) error { return HoldsLock(conn, cfg.LockPath) }
	plan.Arm = func(context.Context) error { return ClearHash(conn, cfg.Machine.Cluster, cfg.LockPath, e.HashVersion) }
	pc.Plan = plan
	return pc, nil
}

// planPhase turns what the machine read into the phase's requests: every pod gets the whole cluster.
func planPhase(cfg Config, e Configure) (PhasePlan, error) {
	w, err := WireOf(e.Pods, e.Dependencies)
	if err != nil {
		return PhasePlan{}, err
	}
	return PhasePlan{Pods: PhasePods(w.Pods), Wire: w, Grace: cfg.Grace, Sequential: cfg.Sequential,
		FullShutdown: cfg.FullShutdown}, nil
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
