// Package probe records the messages actors send and receive, and tells when they are idle (DESIGN §10,
// STYLE 11, 15): protoactor middlewares, a scripted test double, channel-based waits and a quiescence check
// on the virtual clock. protoactor-go ships no test kit; this is ours.
//
// # Recording
//
// A Probe wraps any number of actors through their props:
//
//	p := probe.New()
//	pid := system.Root.Spawn(p.Wrap(actor.PropsFromProducer(newFoo)))     // Receiver, Sender and a spawn hook
//	env := protohost.Env{Clock: clk, Options: p.Options()}                // a behaviour's whole tree (actors/host)
//	pid = system.Root.Spawn(protohost.Props(lifecycle.Props(cfg), env))
//	props := actor.PropsFromProducer(newFoo,                              // or only the two middlewares
//		actor.WithReceiverMiddleware(p.Receiver()), actor.WithSenderMiddleware(p.Sender()))
//
// Every message a wrapped actor's Receive gets is a Record{Dir: Received} (protoactor's lifecycle messages
// *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting and *actor.Terminated included), and
// every message it sends (Send, Request, Forward, Respond) a Record{Dir: Sent}. Records, Messages (the
// protobuf ones) and WaitFor read them. WaitFor and WaitForRecord return the first match after the record the
// previous wait returned, so successive waits walk forward through a conversation; they block on the probe's
// notifications, never poll, and fail the test after a wall-clock timeout.
//
// # The double
//
// Actor is a scripted actor recorded by its probe: spawn it as the parent of the actor under test
// (SpawnChild: what the child reports to ctx.Parent() is recorded) or pass its Props where the actor under
// test spawns a child; Send makes it speak first (as the sender, so replies come back to it), and its Script
// (Reply for the common "answer this with that") decides what it does with each message.
//
// # Quiescence, and its limits
//
// An Idler reports how much work is in flight and a channel closed at the next change. A Probe is one: it
// counts the Receive calls running in wrapped actors, plus the envelopes sent through a probe's Sender to a
// live wrapped actor and not yet received (an envelope is identified by the pointer protoactor hands to both
// middlewares, so the count is exact, not a difference of totals). A fabric.Fabric is one too (HTTP requests
// in flight). WaitIdle(t, timeout, idlers...) waits until all report 0 at once. Quiesce(t, clk, idlers...)
// also fires the virtual clock's due timers (due at or before Now) and waits again, until nothing is in flight
// and no timer is due: the state is settled at the current instant. RunUntil steps the clock from timer to
// timer, quiescing in between, until a condition holds: the simulation's "stabilize".
//
// With protoactor's goroutine dispatcher true quiescence is not observable, and this is what the count cannot
// see. A Quiesce that returns means "nothing the probes can see is in flight", not "the system is idle":
//
//  1. Actors that are not wrapped. pod.Start builds its props itself, so a whole pod's actors are invisible;
//     wait on what the pod publishes (its event stream, zkmem, fakeproc, the fabric) instead.
//  2. Sends from outside any actor: the test's own, and those of timer callbacks and goroutines that actors
//     start, which use the system's root context. TrackRoot(system) puts the Sender on system.Root so they
//     are counted from the moment they are sent.
//  3. Work on goroutines that actors start, until it sends its result: the lifecycle's user callbacks, the
//     ZooKeeper calls of session, model and watchers, the executor's exit waiter (a fakeproc ExitWith ends
//     the process at once, the ExecExited follows on a goroutine). Quiesce can return while such a
//     goroutine runs. Wait for the message that ends the work (WaitFor) rather than for quiescence.
//  4. With Receiver and Sender only (no Wrap or Options), the probe learns an actor's PID at its first
//     message: what is sent to it before its Started runs is counted only from then on. Wrap adds a spawn
//     hook that registers the PID before anyone can send to it.
//  5. System messages (Stop, Watch, Failure...), ReenterAfter continuations, futures and the event stream do
//     not go through middlewares. Messages to futures and dead letters are recorded as sent, never in flight;
//     messages queued to an actor that stops are dropped from the count when it receives Stopped.
//  6. Timers that are not on the virtual clock: protoactor's own (future and receive timeouts, the
//     dead-letter throttle) and anything given clock.Real, such as the configuration phase's per-request
//     timeout (actors/model sets no clock on its phase plan).
//  7. The idlers are asked one after the other, and the due-timer check comes between two passes; a last
//     pass narrows the window but cannot close it against invisible work (3).
//
// The Sender must see the envelope protoactor delivers: put it after any sender middleware that replaces the
// envelope. Envelopes sent to actors the probe does not know stay in its table (a test's worth of memory).
//
// # Determinism
//
// Records are numbered in the order the probe saw them. One actor's records follow its mailbox order; between
// actors running at once the order is the Go scheduler's, so compare per-actor sequences, or drive one step at
// a time (WaitFor, Quiesce) when the whole order matters. The probe starts no goroutine and reads no clock
// except the wall-clock timeouts of its waits.
//
// NewSystem is a test's actor system: protoactor's info-level log discarded, shut down at the end of the test
// (Shutdown does not stop actors: stop yours first, as the examples do with StopFuture in t.Cleanup).
package probe
