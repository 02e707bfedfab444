package lifecycle

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// ClusterEnv returns what the runtime adds to the process's environment for a configuration (DESIGN §11: the
// OCHOPOD_* variables), as KEY=VALUE: (*sdk.Envelope).Environ, or a test's own. It runs on the actor and must
// not block.
type ClusterEnv func(e *sdk.Envelope) []string

// Config is what the lifecycle actor needs. Its clock and logger are its host's (actors/host).
type Config struct {
	Lifecycle sdk.Lifecycle // required; its optional interfaces (sdk.Initializer, ...) are found by type assertion
	Settings  Settings
	// Env is the pod's environment, KEY=VALUE, the base of every process's environment; nil: empty.
	Env []string
	// ClusterEnv adds the pod's variables for the configuration (after Env, before configure's overrides,
	// later ones winning); nil: nothing.
	ClusterEnv ClusterEnv
	// Executor is the child that runs the process (actors/executor, or a fake in tests); it states its own
	// supervisor. Required: without it (New nil) every start fails, and so the pod dies at its first
	// configuration.
	Executor host.Props
	// Supervisor restarts the lifecycle after a crash; zero: host.DefaultSupervisor().
	Supervisor host.Supervisor
	// Cluster is the pod's cluster (qualified name). Set, the lifecycle publishes a *v1.ClusterConfigured
	// of it each time it ran a configuration's ok (DESIGN §4 "Custom actors": what the pod-scope custom
	// actors hear); "": none, when nobody listens (each costs a hash of the cluster).
	Cluster string
}

// Props returns the props of a lifecycle actor. It answers each ControlRequest with a ControlReply to its
// sender, GetLifecycleStatus with LifecycleStatus, and publishes LifecycleStatus on every change. Its child,
// the executor, reports ExecStarted and ExecExited to it.
//
// Stopping it does not tear the process down gracefully (the executor SIGKILLs what still runs when it
// stops): send kill and wait for the reply first (DESIGN §11, SIGTERM). User callbacks cannot crash it (their
// panics are errors); a crash of its own restarts it where it was (Machine.Resume).
func Props(cfg Config) host.Props {
	if cfg.Supervisor == (host.Supervisor{}) {
		cfg.Supervisor = host.DefaultSupervisor()
	}
	mem := &memory{}
	return host.Props{Name: "lifecycle", Supervisor: cfg.Supervisor, New: func() host.Behaviour { return newBehaviour(cfg, mem) }}
}

// memory hands the machine of an incarnation that ended to the next one spawned from the same props (a
// restart after a crash, or a new lifecycle of the pod's restarted root): see Machine.Resume. Incarnations
// never run at once, so it needs no lock.
type memory struct{ prev *Machine }

// behaviour carries out the machine's effects on the host. User callbacks run as tasks, one at a time (the
// machine never issues two), each with a context cancelled when the incarnation ends or the machine no longer
// needs the result (a tear_down whose process ended); each tells CallbackDone.
type behaviour struct {
	cfg      Config
	mem      *memory
	m        *Machine
	executor host.Ref
	handles  uint64              // the last reply handle issued
	replies  map[uint64]host.Ref // requesters waiting for a ControlReply
	ctx      context.Context     // parent of every callback's context; cancelled when the incarnation ends
	stop     context.CancelFunc
	running  map[uint64]context.CancelFunc // callbacks in flight, by epoch
	timers   map[v1.Timer]host.Timer
}

func newBehaviour(cfg Config, mem *memory) *behaviour {
	return &behaviour{
		cfg:     cfg,
		mem:     mem,
		m:       NewMachine(MachineConfig{Settings: cfg.Settings, Implements: implements(cfg.Lifecycle), Announce: cfg.Cluster != ""}),
		replies: map[uint64]host.Ref{},
		running: map[uint64]context.CancelFunc{},
		timers:  map[v1.Timer]host.Timer{},
	}
}

// implements finds the optional callbacks of the user's lifecycle.
func implements(l sdk.Lifecycle) Implements {
	var i Implements
	_, i.Initialize = l.(sdk.Initializer)
	_, i.CanConfigure = l.(sdk.CanConfigurer)
	_, i.Configured = l.(sdk.Configurer)
	_, i.SanityCheck = l.(sdk.SanityChecker)
	_, i.TearDown = l.(sdk.TearDowner)
	_, i.Signaled = l.(sdk.Signaler)
	_, i.Finalize = l.(sdk.Finalizer)
	_, i.IgnoresCluster = l.(sdk.ClusterBlind)
	return i
}

func (b *behaviour) Started(ctx host.Context) {
	b.ctx, b.stop = context.WithCancel(context.Background())
	if b.cfg.Executor.New != nil {
		b.executor = ctx.Spawn(b.cfg.Executor)
	}
	if prev := b.mem.prev; prev != nil {
		b.mem.prev = nil
		b.apply(ctx, b.m.Resume(prev))
		return
	}
	b.apply(ctx, b.m.Start())
}

func (b *behaviour) Receive(ctx host.Context, msg proto.Message) {
	switch msg := msg.(type) {
	case *v1.ControlRequest:
		b.handles++
		if from := ctx.Sender(); from != nil {
			b.replies[b.handles] = from
		}
		b.apply(ctx, b.m.Handle(protocol.Input[*v1.LifecycleInput](&v1.Queued{Handle: b.handles, Request: msg})))
	case *v1.GetLifecycleStatus:
		ctx.Respond(b.m.Status())
	case *v1.GetBase:
		ctx.Respond(b.m.Base())
	case *v1.CallbackDone:
		if cancel, ok := b.running[msg.GetEpoch()]; ok {
			cancel()
			delete(b.running, msg.GetEpoch())
		}
		b.apply(ctx, b.m.Handle(protocol.Input[*v1.LifecycleInput](msg)))
	case *v1.ExecStarted, *v1.ExecExited:
		if from := ctx.Sender(); from != nil && b.executor != nil && from != b.executor {
			return // not from our executor
		}
		b.apply(ctx, b.m.Handle(protocol.Input[*v1.LifecycleInput](msg)))
	case *v1.TimerFired, *v1.ForwardSignal:
		b.apply(ctx, b.m.Handle(protocol.Input[*v1.LifecycleInput](msg)))
	case *v1.InjectCrash:
		if msg.GetTarget() == "executor" && b.executor != nil {
			ctx.Send(b.executor, msg)
			return
		}
		panic(fmt.Sprintf("lifecycle: injected crash: %s", msg.GetReason()))
	}
}

func (b *behaviour) apply(ctx host.Context, effects []Effect) {
	for _, e := range effects {
		b.do(ctx, e)
	}
}

func (b *behaviour) do(ctx host.Context, e Effect) {
	switch e := e.(type) {
	case RunCallback:
		b.run(ctx, e)
	case CancelCallback:
		if cancel, ok := b.running[e.Epoch]; ok {
			cancel()
			delete(b.running, e.Epoch)
		}
	case StartProcess:
		b.startProcess(ctx, e)
	case TearDownProcess:
		b.toExecutor(ctx, &v1.ExecTearDown{Incarnation: e.Incarnation, Term: e.Term, Grace: durationpb.New(e.Grace), Soft: e.Soft},
			&v1.ExecExited{Incarnation: e.Incarnation, TornDown: true})
	case SignalProcess:
		b.toExecutor(ctx, &v1.ExecSignal{Incarnation: e.Incarnation, Signal: e.Signal}, nil)
	case Reply:
		if to, ok := b.replies[e.Handle]; ok {
			delete(b.replies, e.Handle)
			ctx.Send(to, &v1.ControlReply{Code: e.Code, Body: e.Body})
		}
	case StartTimer:
		if t, ok := b.timers[e.Name]; ok {
			t.Stop()
		}
		b.timers[e.Name] = ctx.After(e.After, &v1.TimerFired{Timer: e.Name, Epoch: e.Epoch})
	case Publish:
		ctx.Publish(e.Status)
	case Configured:
		if msg, err := ClusterConfigured(b.cfg.Cluster, e.Envelope, e.Phase); err != nil {
			ctx.Logger().Warn("cannot announce the configured cluster", "err", err)
		} else {
			ctx.Publish(msg)
		}
	case Log:
		ctx.Logger().Log(context.Background(), e.Level, e.Msg, e.Args...)
	}
}

func (b *behaviour) startProcess(ctx host.Context, e StartProcess) {
	var extra []string
	if b.cfg.ClusterEnv != nil && e.Envelope != nil {
		extra = b.cfg.ClusterEnv(e.Envelope)
	}
	start := &v1.ExecStart{
		Incarnation: e.Incarnation, Argv: e.Argv, Shell: e.Shell, Cwd: e.Cwd, Pipe: e.Pipe,
		Env: environ(b.cfg.Env, extra, e.Overrides),
	}
	b.toExecutor(ctx, start, &v1.ExecStarted{Incarnation: e.Incarnation, Failure: protocol.Other("lifecycle: no executor configured")})
}

// toExecutor sends msg to the executor; without one, the machine hears failed, after what is already on its
// way to it.
func (b *behaviour) toExecutor(ctx host.Context, msg, failed proto.Message) {
	if b.executor != nil {
		ctx.Send(b.executor, msg)
		return
	}
	if failed != nil {
		ctx.Go("no executor", func(t host.Task) { t.Tell(failed) })
	}
}

// Release frees what the incarnation owns: timers, and the callbacks' contexts (a callback still running
// returns on its own; what it tells after a stop goes nowhere), and hands its machine to the next
// incarnation (memory). The host stops the executor child after it, which kills the process.
func (b *behaviour) Release(host.Context, bool) {
	b.mem.prev = b.m
	for name, t := range b.timers {
		t.Stop()
		delete(b.timers, name)
	}
	if b.stop != nil {
		b.stop()
	}
	clear(b.running)
}

// ClusterConfigured is what a pod announces once it ran the ok of a configuration on e's cluster (DESIGN §4
// "Custom actors"): the pods and dependencies as sent, their hash (DESIGN §2), the phase. The pods without a
// process announce it too (runtime/pod's root), from this one function.
func ClusterConfigured(cluster string, e *sdk.Envelope, phase string) (*v1.ClusterConfigured, error) {
	hash, err := e.Hash()
	if err != nil {
		return nil, err
	}
	pods, deps := e.Entries()
	return &v1.ClusterConfigured{Cluster: cluster, Hash: hash, Pods: pods, Dependencies: deps,
		Source: v1.ConfiguredSource_CONFIGURED_SOURCE_POD, Phase: phase}, nil
}
