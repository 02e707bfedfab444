// Package host is what an actor's behaviour runs on (DESIGN §4, "One actor, two hosts"). A behaviour turns the
// effects of its pure machine into calls on Context: send, spawn a child with a stated supervisor, stop it,
// run I/O off the actor and have its result delivered back, timers, publish, log. The production host is
// protoactor-go (runtime/protohost); the simulation's host is its seeded single-threaded scheduler
// (testkit/sim). The behaviours are the same code in both, so the simulation tests what ships.
//
// This package imports no actor runtime: `go list -deps ./actors/...` shows none.
package host

import (
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/runtime/backoff"
)

// Ref is the address of an actor on its host. It survives the actor's restarts; refs of one actor are equal
// (==). A nil Ref is nobody: sending to it does nothing.
type Ref interface {
	String() string
}

// Behaviour is one incarnation of an actor. The host calls it on one goroutine at a time, a message after the
// other; a panic is a crash, handled by the actor's supervisor (a new incarnation from Props.New).
type Behaviour interface {
	// Started runs first, before any message.
	Started(ctx Context)
	// Receive handles one message: from another actor, a timer, or a task of this actor.
	Receive(ctx Context, msg proto.Message)
	// Release runs when the incarnation ends: the actor stops, or restarts after a crash (restarting). It
	// frees what the incarnation holds (timers, clients); its children are stopped by the host after it.
	Release(ctx Context, restarting bool)
}

// Props is how to make an actor.
type Props struct {
	// Name is the actor's kind ("session", "watchers"), for logs, traces and InjectCrash targets.
	Name string
	// Supervisor decides when the actor comes back after a crash. Every actor states its own: none falls
	// back on a runtime's default.
	Supervisor Supervisor
	// New makes an incarnation: once at the start, once more after each crash.
	New func() Behaviour
	// Events, if set, picks the messages published on the host (Context.Publish, by any actor of the pod)
	// that this actor receives, as messages, from the moment it is spawned (so it misses nothing published
	// after its parent's Spawn) until it stops; its restarts keep them. The custom actors hear the pod's
	// events this way (DESIGN §4 "Custom actors").
	Events func(proto.Message) bool
}

// Context is the host as one incarnation sees it while it handles a message.
type Context interface {
	Self() Ref
	Parent() Ref
	// Sender is who sent the message being handled with Request; nil if nobody asked.
	Sender() Ref
	// Send delivers msg to to. Messages of one sender to one receiver arrive in order.
	Send(to Ref, msg proto.Message)
	// Request is Send with this actor as the sender, so the receiver can Respond.
	Request(to Ref, msg proto.Message)
	// Respond answers the sender of the message being handled.
	Respond(msg proto.Message)
	// Forward passes the message being handled on to to, with its sender kept: to's Respond answers the one
	// who asked (a router, such as the pod's root, stays out of the reply's way).
	Forward(to Ref)
	// Spawn starts a child; it stops when this actor stops or restarts.
	Spawn(p Props) Ref
	// Stop stops a child and its children.
	Stop(child Ref)
	// Go runs io off the actor (it may block on ZooKeeper, HTTP, processes): what it tells arrives here, in
	// order, as messages. name says what it does, for traces.
	Go(name string, io func(t Task))
	// After delivers msg to this actor once d has passed on the host's clock, unless stopped.
	After(d time.Duration, msg proto.Message) Timer
	// Publish makes msg known to whoever listens (the event stream).
	Publish(msg proto.Message)
	// Logger is this actor's logger.
	Logger() *slog.Logger
}

// Task is the I/O of one Go call, off the actor.
type Task interface {
	// Tell delivers msg to the actor that started the task, after what it told before.
	Tell(msg proto.Message)
	// Wait waits for something outside the host's view (a watch's event, a session event): recv(true)
	// blocks until it happened and takes it; recv(false) takes it if it happened and says whether it did.
	// A goroutine host calls recv(true); a scheduler that must not block calls recv(false) after each of
	// its events until it returns true. Use Recv.
	Wait(recv func(block bool) bool)
}

// Recv receives from ch through t: v and true, or the zero value and false once ch is closed (or the host
// gave the task up).
func Recv[T any](t Task, ch <-chan T) (v T, ok bool) {
	t.Wait(func(block bool) bool {
		if block {
			v, ok = <-ch
			return true
		}
		select {
		case v, ok = <-ch:
			return true
		default:
			return false
		}
	})
	return v, ok
}

// Timer is a pending After.
type Timer interface {
	Stop() bool
}

// Supervisor is an actor's restart policy: a crash restarts it after a delay that grows with the crashes of
// the last Window (the first at once), so a broken dependency is not hammered (DESIGN §4).
type Supervisor struct {
	Backoff backoff.Policy
	Window  time.Duration
}

// DefaultSupervisor restarts at once, then after 100 ms doubling up to 10 s, forgetting crashes after a minute.
func DefaultSupervisor() Supervisor {
	return Supervisor{Backoff: backoff.Policy{Initial: 100 * time.Millisecond, Max: 10 * time.Second}, Window: time.Minute}
}

// Decide is the delay before the restart after a crash at now, given the earlier crashes (history), and the
// history to keep for the next one.
func (s Supervisor) Decide(history []time.Time, now time.Time) (time.Duration, []time.Time) {
	kept := make([]time.Time, 0, len(history)+1)
	for _, t := range history {
		if s.Window <= 0 || now.Sub(t) < s.Window {
			kept = append(kept, t)
		}
	}
	delay := s.Backoff.Delay(len(kept)) // earlier crashes in the window: 0 → at once
	return delay, append(kept, now)
}
