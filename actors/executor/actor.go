package executor

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/proc"
)

// Config is what the executor actor needs.
type Config struct {
	Spawner proc.Spawner
	Clock   clock.Clock
	Logger  *slog.Logger
	// Output is the pod log sink for piped output (ExecStart.pipe): it gets each line of the process's stdout
	// and stderr, without the newline. Calls come from the output copy goroutines, one at a time (the actor
	// serializes them). Nil discards piped output.
	Output func(line string)
	// Stdout and Stderr receive the output of a process started without pipe; main passes its own stdout and
	// stderr, so the output shows in the container's log as with the original's inherited descriptors. They
	// must be safe for concurrent use. Nil discards.
	Stdout, Stderr io.Writer
	// ReportTo receives ExecStarted and ExecExited; nil means the actor's parent (the lifecycle, DESIGN §4).
	ReportTo *actor.PID
}

// Props returns the props of an executor actor. It spawns no child, so it needs no supervisor strategy of its
// own; its parent's strategy decides what a crash of it means (a restarted executor starts idle and has
// forgotten the process it ran, see the package doc).
func Props(cfg Config) *actor.Props {
	sink := serialize(cfg.Output) // shared by every instance these props make, and every process they run
	return actor.PropsFromProducer(func() actor.Actor { return newAdapter(cfg, sink) })
}

// serialize makes calls to f one at a time; nil stays nil.
func serialize(f func(string)) func(string) {
	if f == nil {
		return nil
	}
	var mu sync.Mutex
	return func(line string) {
		mu.Lock()
		defer mu.Unlock()
		f(line)
	}
}

// adapter carries out the machine's effects.
//
// Goroutines: one per started process, waiting for its exit; it sends ExecExited to the actor and ends when
// the process is reaped, or earlier when the actor stops (quit). The process's output copies belong to the
// spawner. Timers belong to the clock and are stopped when the actor stops.
type adapter struct {
	cfg    Config
	sink   func(string)
	log    *slog.Logger
	m      *Machine
	proc   proc.Process // of incarnation inc; kept after its exit, so a last signal reaches what is left of its group
	inc    uint64
	timers map[v1.Timer]clock.Timer
	quit   chan struct{}
	once   sync.Once
}

func newAdapter(cfg Config, sink func(string)) *adapter {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &adapter{
		cfg:    cfg,
		sink:   sink,
		log:    log.With("actor", "executor"),
		m:      NewMachine(),
		timers: map[v1.Timer]clock.Timer{},
		quit:   make(chan struct{}),
	}
}

// Receive is the protoactor entry point.
func (a *adapter) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Stopping, *actor.Restarting:
		a.release()
	case *v1.ExecStart, *v1.ExecSignal, *v1.ExecTearDown, *v1.ExecExited, *v1.TimerFired:
		a.apply(ctx, a.m.Handle(protocol.Input[*v1.ExecutorInput](msg)))
	}
}

func (a *adapter) apply(ctx actor.Context, effects []Effect) {
	for _, e := range effects {
		a.do(ctx, e)
	}
}

func (a *adapter) do(ctx actor.Context, e Effect) {
	switch e := e.(type) {
	case Spawn:
		a.spawn(ctx, e)
	case Signal:
		if a.proc == nil || a.inc != e.Incarnation {
			return
		}
		if err := a.proc.Signal(e.Signal); err != nil {
			a.log.Warn("signal failed", "epoch", e.Incarnation, "pid", a.proc.Pid(), "signal", e.Signal, "err", err)
		}
	case StartTimer:
		if t, ok := a.timers[e.Name]; ok {
			t.Stop()
		}
		tell := send(ctx)
		a.timers[e.Name] = a.cfg.Clock.AfterFunc(e.After, func() { tell(&v1.TimerFired{Timer: e.Name, Epoch: e.Epoch}) })
	case StopTimer:
		if t, ok := a.timers[e.Name]; ok {
			t.Stop()
			delete(a.timers, e.Name)
		}
	case Report:
		to := a.cfg.ReportTo
		if to == nil {
			to = ctx.Parent()
		}
		if to == nil {
			a.log.Error("executor has no one to report to", "msg", e.Msg)
			return
		}
		// Request, not Send: the receiver can tell which executor speaks (a restarted one is a new PID).
		ctx.Request(to, e.Msg)
	case Log:
		a.log.Log(context.Background(), e.Level, e.Msg, e.Args...)
	}
}

// send returns a function that delivers a message to this actor from any goroutine.
func send(ctx actor.Context) func(any) {
	root, self := ctx.ActorSystem().Root, ctx.Self()
	return func(m any) { root.Send(self, m) }
}

// spawn starts the process at once (fork and exec take about a millisecond) and feeds the outcome back to the
// machine before anything else.
func (a *adapter) spawn(ctx actor.Context, e Spawn) {
	spec := proc.Spec{Argv: e.Argv, Shell: e.Shell, Dir: e.Dir, Env: e.Env, Stdout: a.cfg.Stdout, Stderr: a.cfg.Stderr}
	if e.Pipe {
		spec.Stdout, spec.Stderr = nil, nil
		if a.sink != nil {
			spec.Stdout, spec.Stderr = proc.NewLineWriter(a.sink), proc.NewLineWriter(a.sink)
		}
	}
	started := &v1.ExecStarted{Incarnation: e.Incarnation}
	p, err := a.cfg.Spawner.Spawn(spec)
	if err != nil {
		started.Failure, started.Resources = protocol.Failure(err), proc.LackOfResources(err)
	} else {
		started.Pid = int64(p.Pid())
		a.proc, a.inc = p, e.Incarnation
		a.wait(ctx, e.Incarnation, p)
	}
	a.apply(ctx, a.m.Handle(protocol.Input[*v1.ExecutorInput](started)))
}

// wait starts the goroutine that reports the exit of p; it ends when p is reaped or the actor stops.
func (a *adapter) wait(ctx actor.Context, inc uint64, p proc.Process) {
	tell, quit := send(ctx), a.quit
	go func() {
		select {
		case <-p.Done():
			x := p.Exit()
			tell(&v1.ExecExited{Incarnation: inc, Pid: int64(p.Pid()), Code: int32(x.Code()), Signal: int32(x.Signal)})
		case <-quit:
		}
	}()
}

// release frees what the actor owns when it stops or restarts: timers and the exit waiter. The process is not
// touched: tearing it down is the lifecycle's decision (it sends ExecTearDown first).
func (a *adapter) release() {
	a.once.Do(func() {
		for name, t := range a.timers {
			t.Stop()
			delete(a.timers, name)
		}
		close(a.quit)
		if pid := a.m.Pid(); pid != 0 {
			a.log.Warn("executor stopped while its process runs: the process is left alone", "epoch", a.m.Incarnation(), "pid", pid)
		}
	})
}
