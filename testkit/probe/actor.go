package probe

import (
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Script is what an Actor does with each message it receives, after the probe recorded it: respond, send,
// spawn, stop, panic. It runs on the actor's goroutine, like any Receive. A nil Script only records.
type Script func(ctx actor.Context)

// Reply is a Script that responds to each message m with answer(m), unless that is nil. Lifecycle messages
// (*actor.Started, ...) are passed to answer too; return nil for them.
func Reply(answer func(msg any) any) Script {
	return func(ctx actor.Context) {
		if out := answer(ctx.Message()); out != nil {
			ctx.Respond(out)
		}
	}
}

// Actor is a scripted test double recorded by a probe. Spawn it where the actor under test expects a child
// (pass Props where a config takes a child's props, e.g. lifecycle.Config.Executor) or a parent (Spawn it,
// then SpawnChild the actor under test below it, so that ctx.Parent() is the double); Send makes the double
// speak first, with itself as the sender, so replies come back to it and are recorded.
//
// When the double's props are spawned several times, the methods act on the instance started last.
type Actor struct {
	p      *Probe
	script Script
	props  *actor.Props

	mu      sync.Mutex
	system  *actor.ActorSystem
	pid     *actor.PID
	started chan struct{} // closed at the first Started
	once    sync.Once
}

// NewActor returns a double recorded by p, running script on every message (after any internal handling).
// opts are added to its props after the probe's Options (a supervisor for the children it spawns, a
// mailbox...).
func NewActor(p *Probe, script Script, opts ...actor.PropsOption) *Actor {
	a := &Actor{p: p, script: script, started: make(chan struct{})}
	a.props = actor.PropsFromProducer(func() actor.Actor { return doubleActor{a} }, append(p.Options(), opts...)...)
	return a
}

// Props are the double's props, wrapped by its probe.
func (a *Actor) Props() *actor.Props { return a.props }

// Probe is the probe that records the double.
func (a *Actor) Probe() *Probe { return a.p }

// Spawn starts the double at the root of system and returns its PID.
func (a *Actor) Spawn(system *actor.ActorSystem) *actor.PID {
	pid := system.Root.Spawn(a.props)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.system, a.pid = system, pid
	return pid
}

// PID is the double's PID, nil until it was spawned or started.
func (a *Actor) PID() *actor.PID {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pid
}

// Started is closed once the double received its first Started.
func (a *Actor) Started() <-chan struct{} { return a.started }

// WaitStarted waits until the double started (when something else spawns it, as a child) and returns its PID.
func (a *Actor) WaitStarted(t testing.TB, timeout time.Duration) *actor.PID {
	t.Helper()
	select {
	case <-a.started:
		return a.PID()
	case <-time.After(timeout):
		t.Fatalf("probe: the double did not start within %v", timeout)
		return nil
	}
}

// SpawnChild makes the double spawn props as its child, and returns the child's PID: the child's ctx.Parent()
// is the double, so what the child reports to its parent is recorded (and scripted). It fails the test if the
// double is not running or does not answer within DefaultTimeout.
func (a *Actor) SpawnChild(t testing.TB, props *actor.Props) *actor.PID {
	t.Helper()
	system, pid := a.ref(t)
	reply := make(chan *actor.PID, 1)
	system.Root.Send(pid, spawnChild{props: props, reply: reply})
	select {
	case child := <-reply:
		return child
	case <-time.After(DefaultTimeout):
		t.Fatalf("probe: the double %s did not spawn its child within %v", pid.GetId(), DefaultTimeout)
		return nil
	}
}

// Send makes the double send msg to target with itself as the sender (ctx.Request), so that target's
// ctx.Sender() is the double and its replies come back to it. It does not wait.
func (a *Actor) Send(t testing.TB, target *actor.PID, msg any) {
	t.Helper()
	system, pid := a.ref(t)
	system.Root.Send(pid, sendAs{target: target, msg: msg})
}

func (a *Actor) ref(t testing.TB) (*actor.ActorSystem, *actor.PID) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pid == nil || a.system == nil {
		t.Fatal("probe: the double is not running: Spawn it, or WaitStarted when something else spawns it")
	}
	return a.system, a.pid
}

// doubleActor is the double's protoactor actor.
type doubleActor struct{ a *Actor }

func (d doubleActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		d.a.mu.Lock()
		d.a.system, d.a.pid = ctx.ActorSystem(), ctx.Self()
		d.a.mu.Unlock()
		d.a.once.Do(func() { close(d.a.started) })
	case spawnChild:
		m.reply <- ctx.Spawn(m.props)
		return
	case sendAs:
		ctx.Request(m.target, m.msg)
		return
	}
	if d.a.script != nil {
		d.a.script(ctx)
	}
}

// spawnChild and sendAs are the test's requests to the double; the probe does not record them.
type spawnChild struct {
	props *actor.Props
	reply chan<- *actor.PID
}

type sendAs struct {
	target *actor.PID
	msg    any
}

func (spawnChild) probeInternal() {}
func (sendAs) probeInternal()     {}
