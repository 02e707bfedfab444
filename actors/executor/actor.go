package executor

import (
	"context"
	"fmt"
	"io"
	"sync"
	"syscall"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/proc"
)

// Config is what the executor actor needs. Its clock and logger are its host's (actors/host).
type Config struct {
	Spawner proc.Spawner
	// Output is the pod log sink for piped output (ExecStart.pipe): it gets each line of the process's stdout
	// and stderr, without the newline. Calls come from the output copies, one at a time (the props serialize
	// them). Nil discards piped output.
	Output func(line string)
	// Stdout and Stderr receive the output of a process started without pipe; main passes its own stdout and
	// stderr, so the output shows in the container's log as with the original's inherited descriptors. They
	// must be safe for concurrent use. Nil discards.
	Stdout, Stderr io.Writer
	// ReportTo receives ExecStarted and ExecExited; nil means the actor's parent (the lifecycle, DESIGN §4).
	ReportTo host.Ref
	// Supervisor restarts the executor after a crash; zero: host.DefaultSupervisor(). A restarted executor
	// starts idle: the process it ran was killed and reported exited (see Release).
	Supervisor host.Supervisor
}

// Props returns the props of an executor actor. It spawns no child.
func Props(cfg Config) host.Props {
	if cfg.Supervisor == (host.Supervisor{}) {
		cfg.Supervisor = host.DefaultSupervisor()
	}
	sink := serialize(cfg.Output) // shared by every incarnation, and every process they run
	return host.Props{Name: "executor", Supervisor: cfg.Supervisor, New: func() host.Behaviour { return newBehaviour(cfg, sink) }}
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

// behaviour carries out the machine's effects on the host.
//
// Tasks: one per started process, waiting for its exit; it tells ExecExited and ends when the process is
// reaped, or earlier when the incarnation ends (quit). The process's output copies belong to the spawner.
type behaviour struct {
	cfg    Config
	sink   func(string)
	m      *Machine
	proc   proc.Process // of incarnation inc; kept after its exit, so a last signal reaches what is left of its group
	inc    uint64
	timers map[v1.Timer]host.Timer
	quit   chan struct{}
}

func newBehaviour(cfg Config, sink func(string)) *behaviour {
	return &behaviour{cfg: cfg, sink: sink, m: NewMachine(), timers: map[v1.Timer]host.Timer{}, quit: make(chan struct{})}
}

func (b *behaviour) Started(host.Context) {}

func (b *behaviour) Receive(ctx host.Context, msg proto.Message) {
	switch msg.(type) {
	case *v1.ExecStart, *v1.ExecSignal, *v1.ExecTearDown, *v1.ExecExited, *v1.TimerFired:
		b.apply(ctx, b.m.Handle(protocol.Input[*v1.ExecutorInput](msg)))
	case *v1.InjectCrash:
		panic(fmt.Sprintf("executor: injected crash: %s", msg.(*v1.InjectCrash).GetReason()))
	}
}

func (b *behaviour) apply(ctx host.Context, effects []Effect) {
	for _, e := range effects {
		b.do(ctx, e)
	}
}

func (b *behaviour) do(ctx host.Context, e Effect) {
	switch e := e.(type) {
	case Spawn:
		b.spawn(ctx, e)
	case Signal:
		if b.proc == nil || b.inc != e.Incarnation {
			return
		}
		if err := b.proc.Signal(e.Signal); err != nil {
			ctx.Logger().Warn("signal failed", "epoch", e.Incarnation, "pid", b.proc.Pid(), "signal", e.Signal, "err", err)
		}
	case StartTimer:
		if t, ok := b.timers[e.Name]; ok {
			t.Stop()
		}
		b.timers[e.Name] = ctx.After(e.After, &v1.TimerFired{Timer: e.Name, Epoch: e.Epoch})
	case StopTimer:
		if t, ok := b.timers[e.Name]; ok {
			t.Stop()
			delete(b.timers, e.Name)
		}
	case Report:
		to := b.cfg.ReportTo
		if to == nil {
			to = ctx.Parent()
		}
		if to == nil {
			ctx.Logger().Error("executor has no one to report to", "msg", e.Msg)
			return
		}
		// Request, not Send: the receiver can tell which executor speaks (a restarted one is a new incarnation
		// of the same actor, but a stopped and respawned one is another).
		ctx.Request(to, e.Msg)
	case Log:
		ctx.Logger().Log(context.Background(), e.Level, e.Msg, e.Args...)
	}
}

// spawn starts the process at once (fork and exec take about a millisecond) and feeds the outcome back to the
// machine before anything else.
func (b *behaviour) spawn(ctx host.Context, e Spawn) {
	spec := proc.Spec{Argv: e.Argv, Shell: e.Shell, Dir: e.Dir, Env: e.Env, Stdout: b.cfg.Stdout, Stderr: b.cfg.Stderr}
	if e.Pipe {
		spec.Stdout, spec.Stderr = nil, nil
		if b.sink != nil {
			spec.Stdout, spec.Stderr = proc.NewLineWriter(b.sink), proc.NewLineWriter(b.sink)
		}
	}
	started := &v1.ExecStarted{Incarnation: e.Incarnation}
	p, err := b.cfg.Spawner.Spawn(spec)
	if err != nil {
		started.Failure, started.Resources = protocol.Failure(err), proc.LackOfResources(err)
	} else {
		started.Pid = int64(p.Pid())
		b.proc, b.inc = p, e.Incarnation
		b.wait(ctx, e.Incarnation, p)
	}
	b.apply(ctx, b.m.Handle(protocol.Input[*v1.ExecutorInput](started)))
}

// wait starts the task that tells the exit of p; it ends when p is reaped or the incarnation ends.
func (b *behaviour) wait(ctx host.Context, inc uint64, p proc.Process) {
	quit := b.quit
	ctx.Go("wait for the process", func(t host.Task) {
		exited := false
		t.Wait(func(block bool) bool {
			if block {
				select {
				case <-p.Done():
				case <-quit:
				}
			} else {
				select {
				case <-p.Done():
				case <-quit:
				default:
					return false
				}
			}
			// An ended incarnation goes first, not a random pick when both are ready (a process its Release
			// killed): that Release reported it already.
			select {
			case <-quit:
			default:
				exited = true
			}
			return true
		})
		if exited {
			x := p.Exit()
			t.Tell(&v1.ExecExited{Incarnation: inc, Pid: int64(p.Pid()), Code: int32(x.Code()), Signal: int32(x.Signal)})
		}
	})
}

// Release frees what the incarnation owns: timers and the exit waiter. Tearing the process down is the
// lifecycle's decision (it sends ExecTearDown before it stops the executor); a process still running when the
// incarnation ends (a crash of the executor, or of the lifecycle above it) is SIGKILLed with its group and
// reported exited, so that no process outlives the actor that knows it: the next executor would start a
// second one beside it (the lifecycle restarts the process after a crash, Machine.Resume after its own).
func (b *behaviour) Release(ctx host.Context, _ bool) {
	for name, t := range b.timers {
		t.Stop()
		delete(b.timers, name)
	}
	select {
	case <-b.quit: // released already
		return
	default:
		close(b.quit)
	}
	pid := b.m.Pid()
	if pid == 0 || b.proc == nil || b.inc != b.m.Incarnation() {
		return
	}
	ctx.Logger().Warn("executor stopped while its process runs: killing it", "epoch", b.inc, "pid", pid)
	if err := b.proc.Signal(syscall.SIGKILL); err != nil {
		ctx.Logger().Warn("kill failed", "epoch", b.inc, "pid", pid, "err", err)
	}
	b.do(ctx, Report{Msg: &v1.ExecExited{Incarnation: b.inc, Pid: pid, Code: 128 + int32(syscall.SIGKILL), Signal: int32(syscall.SIGKILL), Killed: true}})
}
