package lifecycle

import (
	"context"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// ClusterEnv returns what the runtime adds to the process's environment for a configuration (DESIGN §11: the
// OCHOPOD_* variables), as KEY=VALUE: (*sdk.Envelope).Environ, or a test's own. It runs on the actor's
// goroutine and must not block.
type ClusterEnv func(e *sdk.Envelope) []string

// Config is what the lifecycle actor needs.
type Config struct {
	Lifecycle sdk.Lifecycle // required; its optional interfaces (sdk.Initializer, ...) are found by type assertion
	Settings  Settings
	// Env is the pod's environment, KEY=VALUE, the base of every process's environment; nil: empty.
	Env []string
	// ClusterEnv adds the pod's variables for the configuration (after Env, before configure's overrides,
	// later ones winning); nil: nothing.
	ClusterEnv ClusterEnv
	Clock      clock.Clock // required
	Logger     *slog.Logger
	// Executor builds the child that runs the process (actors/executor, or a fake in tests). Required: without
	// it every start fails, and so the pod dies at its first configuration.
	Executor *actor.Props
	// Supervisor handles the executor's failures; nil: protoactor's default. A restarted executor forgets its
	// process (actors/executor), so the lifecycle would not hear of its exit: prefer a strategy that stops.
	Supervisor actor.SupervisorStrategy
}

// Props returns the props of a lifecycle actor. It answers each ControlRequest with a ControlReply to its
// sender, GetLifecycleStatus with LifecycleStatus, and publishes LifecycleStatus on the actor system's event
// stream on every change. Its child, the executor, reports ExecStarted and ExecExited to it.
//
// Stopping it does not tear the process down (the executor forgets its process when it stops): send kill and
// wait for the reply first (DESIGN §11, SIGTERM). User callbacks cannot crash it (their panics are errors).
func Props(cfg Config) *actor.Props {
	opts := []actor.PropsOption{}
	if cfg.Supervisor != nil {
		opts = append(opts, actor.WithSupervisor(cfg.Supervisor))
	}
	return actor.PropsFromProducer(func() actor.Actor { return newAdapter(cfg) }, opts...)
}

// adapter carries out the machine's effects. User callbacks run on goroutines of their own, one at a time (the
// machine never issues two), each with a context cancelled when the actor stops or the machine no longer needs
// the result (a tear_down whose process ended); each reports back to the mailbox with CallbackDone.
type adapter struct {
	cfg      Config
	log      *slog.Logger
	m        *Machine
	executor *actor.PID
	handles  uint64                // the last reply handle issued
	replies  map[uint64]*actor.PID // requesters waiting for a ControlReply
	ctx      context.Context       // parent of every callback's context; cancelled when the actor stops
	stop     context.CancelFunc
	running  map[uint64]context.CancelFunc // callbacks in flight, by epoch
	timers   map[v1.Timer]clock.Timer
}

func newAdapter(cfg Config) *adapter {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &adapter{
		cfg:     cfg,
		log:     log.With("actor", "lifecycle"),
		m:       NewMachine(MachineConfig{Settings: cfg.Settings, Implements: implements(cfg.Lifecycle)}),
		replies: map[uint64]*actor.PID{},
		running: map[uint64]context.CancelFunc{},
		timers:  map[v1.Timer]clock.Timer{},
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

// Receive is the protoactor entry point.
func (a *adapter) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.ctx, a.stop = context.WithCancel(context.Background())
		if a.cfg.Executor != nil {
			a.executor = ctx.Spawn(a.cfg.Executor)
		}
		a.apply(ctx, a.m.Start())
	case *actor.Stopping, *actor.Restarting:
		a.release()
	case *v1.ControlRequest:
		a.handles++
		if ctx.Sender() != nil {
			a.replies[a.handles] = ctx.Sender()
		}
		a.apply(ctx, a.m.Handle(protocol.Input[*v1.LifecycleInput](&v1.Queued{Handle: a.handles, Request: msg})))
	case *v1.GetLifecycleStatus:
		ctx.Respond(a.m.Status())
	case *v1.CallbackDone:
		if cancel, ok := a.running[msg.GetEpoch()]; ok {
			cancel()
			delete(a.running, msg.GetEpoch())
		}
		a.apply(ctx, a.m.Handle(protocol.Input[*v1.LifecycleInput](msg)))
	case *v1.ExecStarted, *v1.ExecExited:
		if ctx.Sender() != nil && a.executor != nil && !ctx.Sender().Equal(a.executor) {
			return // not from our executor
		}
		a.apply(ctx, a.m.Handle(protocol.Input[*v1.LifecycleInput](msg)))
	case *v1.TimerFired, *v1.ForwardSignal:
		a.apply(ctx, a.m.Handle(protocol.Input[*v1.LifecycleInput](msg)))
	}
}

func (a *adapter) apply(ctx actor.Context, effects []Effect) {
	for _, e := range effects {
		a.do(ctx, e)
	}
}

func (a *adapter) do(ctx actor.Context, e Effect) {
	switch e := e.(type) {
	case RunCallback:
		a.run(ctx, e)
	case CancelCallback:
		if cancel, ok := a.running[e.Epoch]; ok {
			cancel()
			delete(a.running, e.Epoch)
		}
	case StartProcess:
		a.startProcess(ctx, e)
	case TearDownProcess:
		a.toExecutor(ctx, &v1.ExecTearDown{Incarnation: e.Incarnation, Term: e.Term, Grace: durationpb.New(e.Grace), Soft: e.Soft},
			&v1.ExecExited{Incarnation: e.Incarnation, TornDown: true})
	case SignalProcess:
		a.toExecutor(ctx, &v1.ExecSignal{Incarnation: e.Incarnation, Signal: e.Signal}, nil)
	case Reply:
		if pid, ok := a.replies[e.Handle]; ok {
			delete(a.replies, e.Handle)
			ctx.Send(pid, &v1.ControlReply{Code: e.Code, Body: e.Body})
		}
	case StartTimer:
		if t, ok := a.timers[e.Name]; ok {
			t.Stop()
		}
		tell := send(ctx)
		a.timers[e.Name] = a.cfg.Clock.AfterFunc(e.After, func() { tell(&v1.TimerFired{Timer: e.Name, Epoch: e.Epoch}) })
	case Publish:
		ctx.ActorSystem().EventStream.Publish(e.Status)
	case Log:
		a.log.Log(context.Background(), e.Level, e.Msg, e.Args...)
	}
}

func (a *adapter) startProcess(ctx actor.Context, e StartProcess) {
	var extra []string
	if a.cfg.ClusterEnv != nil && e.Envelope != nil {
		extra = a.cfg.ClusterEnv(e.Envelope)
	}
	start := &v1.ExecStart{
		Incarnation: e.Incarnation, Argv: e.Argv, Shell: e.Shell, Cwd: e.Cwd, Pipe: e.Pipe,
		Env: environ(a.cfg.Env, extra, e.Overrides),
	}
	a.toExecutor(ctx, start, &v1.ExecStarted{Incarnation: e.Incarnation, Failure: protocol.Other("lifecycle: no executor configured")})
}

// toExecutor sends msg to the executor; without one, the machine hears failed right away.
func (a *adapter) toExecutor(ctx actor.Context, msg, failed any) {
	if a.executor != nil {
		ctx.Send(a.executor, msg)
		return
	}
	if failed != nil {
		send(ctx)(failed)
	}
}

// send returns a function that delivers a message to this actor from any goroutine.
func send(ctx actor.Context) func(any) {
	root, self := ctx.ActorSystem().Root, ctx.Self()
	return func(m any) { root.Send(self, m) }
}

// release frees what the actor owns when it stops or restarts: timers, and the callbacks' contexts (a callback
// still running returns on its own; its completion goes to dead letters). The executor child is stopped by
// protoactor, and tears its process down.
func (a *adapter) release() {
	for name, t := range a.timers {
		t.Stop()
		delete(a.timers, name)
	}
	if a.stop != nil {
		a.stop()
	}
	clear(a.running)
}
