package probe

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
)

// DefaultTimeout bounds, in wall-clock time, the waits that take no timeout of their own (Quiesce,
// RunUntil, Actor.SpawnChild). It is a safety net against a hung test, not a way to let time pass.
const DefaultTimeout = 10 * time.Second

// Direction tells whether a probed actor received or sent a message.
type Direction int

const (
	Received Direction = iota + 1 // the probed actor's Receive got it
	Sent                          // the probed actor (or a tracked root context) sent it
)

func (d Direction) String() string {
	switch d {
	case Received:
		return "received"
	case Sent:
		return "sent"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// Record is one message the probe saw.
type Record struct {
	Seq int       // from 1, in the order the probe saw it
	Dir Direction // Received or Sent
	// Actor is the probed actor that received or sent the message; nil for a send from a root context
	// (TrackRoot).
	Actor *actor.PID
	// Peer is, for Received, the sender (nil when the message came without one, as with Send); for Sent, the
	// target.
	Peer    *actor.PID
	Message any // unwrapped from its envelope; lifecycle messages (*actor.Started, ...) included
}

func (r Record) String() string {
	return fmt.Sprintf("#%d %s %s %s %T", r.Seq, pidString(r.Actor), r.Dir, pidString(r.Peer), r.Message)
}

// Probe records what the actors it wraps receive and send, and counts what is in flight between them. Build
// one with New; all methods are safe for concurrent use.
type Probe struct {
	mu      sync.Mutex
	records []Record
	cursor  int           // WaitFor resumes after this many records
	changed chan struct{} // closed and replaced at every new record and every change of the in-flight count
	actors  map[string]*tracked
	flight  map[flightKey]int // envelopes sent and not yet received, by target
	busy    int               // Receive calls running in probed actors
}

// tracked is a probed actor.
type tracked struct {
	pid     *actor.PID
	stopped bool
}

// flightKey is one envelope on its way to one target. protoactor puts the very envelope the sender
// middleware saw into the target's mailbox, and hands the same pointer to the receiver middleware, so the
// pointer identifies the message exactly (a Forward re-sends the same envelope: it is keyed by target too).
type flightKey struct {
	env    *actor.MessageEnvelope
	target string
}

// New returns a probe that wraps no actor yet.
func New() *Probe {
	return &Probe{changed: make(chan struct{}), actors: map[string]*tracked{}, flight: map[flightKey]int{}}
}

// Receiver is the receiver middleware: every message the actor's Receive gets is recorded (lifecycle
// messages too) and, if a probed actor sent it, leaves the in-flight count; the actor counts as busy until
// its Receive returns (or panics).
func (p *Probe) Receiver() actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			self := c.Self()
			p.received(self, env)
			defer p.receiveDone(self, env)
			next(c, env)
		}
	}
}

// Sender is the sender middleware: every message the actor sends (Send, Request, Forward, Respond) is
// recorded and, if its target is a live actor, counted in flight until a probed target receives it. On a root
// context (TrackRoot) it does the same for sends from outside any actor.
//
// It must see the envelope protoactor delivers: put it last among sender middlewares, or after only ones
// that pass the envelope on unchanged.
func (p *Probe) Sender() actor.SenderMiddleware {
	return func(next actor.SenderFunc) actor.SenderFunc {
		return func(c actor.SenderContext, target *actor.PID, env *actor.MessageEnvelope) {
			p.sent(c, target, env)
			next(c, target, env)
		}
	}
}

// Options are the props options that wrap an actor: Receiver, Sender, and a spawn function that tells the
// probe the actor's PID as soon as it exists (before anyone can send to it), so messages sent to it before
// its Started are counted. It replaces the props' spawn function (actor.WithSpawnFunc).
func (p *Probe) Options() []actor.PropsOption {
	return []actor.PropsOption{
		actor.WithReceiverMiddleware(p.Receiver()),
		actor.WithSenderMiddleware(p.Sender()),
		actor.WithSpawnFunc(p.spawn),
	}
}

// Wrap adds Options to props and returns them: props.Configure(p.Options()...). It changes props in place,
// so wrap props made for this purpose (protohost.Props(...) returns new props at every call).
func (p *Probe) Wrap(props *actor.Props) *actor.Props { return props.Configure(p.Options()...) }

// TrackRoot installs Sender on system.Root, so that messages sent from outside any actor through it (the
// test's own sends, and the sends of timer callbacks and goroutines that actors start, which use
// ctx.ActorSystem().Root) are recorded and counted in flight. It replaces the root's sender middlewares and
// is not safe to call while anything uses system.Root: call it before spawning.
func (p *Probe) TrackRoot(system *actor.ActorSystem) {
	system.Root.WithSenderMiddleware(p.Sender())
}

func (p *Probe) spawn(system *actor.ActorSystem, id string, props *actor.Props,
	parent actor.SpawnerContext) (*actor.PID, error) {
	pid, err := actor.DefaultSpawner(system, id, props, parent)
	if err == nil {
		p.mu.Lock()
		p.trackLocked(pid)
		p.notifyLocked()
		p.mu.Unlock()
	}
	return pid, err
}

func (p *Probe) trackLocked(pid *actor.PID) *tracked {
	k := pidKey(pid)
	a, ok := p.actors[k]
	if !ok {
		a = &tracked{pid: pid}
		p.actors[k] = a
	}
	return a
}

func (p *Probe) received(self *actor.PID, env *actor.MessageEnvelope) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.trackLocked(self)
	if _, ok := env.Message.(*actor.Started); ok {
		a.stopped = false // a restart is not a stop; a name reused after a stop is a new actor
	}
	k := flightKey{env: env, target: pidKey(self)}
	if n := p.flight[k]; n > 1 {
		p.flight[k] = n - 1
	} else {
		delete(p.flight, k)
	}
	p.busy++
	if _, ok := env.Message.(internal); !ok {
		p.appendLocked(Record{Dir: Received, Actor: self, Peer: env.Sender, Message: env.Message})
	}
	p.notifyLocked()
}

func (p *Probe) receiveDone(self *actor.PID, env *actor.MessageEnvelope) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy--
	if _, ok := env.Message.(*actor.Stopped); ok {
		// Nothing reaches a stopped actor: what was on its way to it is dropped (dead letters).
		k := pidKey(self)
		p.trackLocked(self).stopped = true
		for f := range p.flight {
			if f.target == k {
				delete(p.flight, f)
			}
		}
	}
	p.notifyLocked()
}

func (p *Probe) sent(c actor.SenderContext, target *actor.PID, env *actor.MessageEnvelope) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Only a local actor can be probed: a reply to a future, or a message to dead letters, is never in flight.
	if proc, ok := c.ActorSystem().ProcessRegistry.Get(target); ok {
		if _, isActor := proc.(*actor.ActorProcess); isActor {
			p.flight[flightKey{env: env, target: pidKey(target)}]++
		}
	}
	if _, ok := env.Message.(internal); !ok {
		p.appendLocked(Record{Dir: Sent, Actor: c.Self(), Peer: target, Message: env.Message})
	}
	p.notifyLocked()
}

func (p *Probe) appendLocked(r Record) {
	r.Seq = len(p.records) + 1
	p.records = append(p.records, r)
}

func (p *Probe) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// inFlightLocked counts the Receive calls running plus the envelopes on their way to live probed actors.
// Envelopes to an actor the probe does not know (yet) do not count: protoactor gives no way to tell an
// actor that is not wrapped from one wrapped without Options whose Started has not run yet.
func (p *Probe) inFlightLocked() int {
	n := p.busy
	for k, c := range p.flight {
		if a, ok := p.actors[k.target]; ok && !a.stopped {
			n += c
		}
	}
	return n
}

// InFlight is the number of messages in flight between the probed actors (sent through a probe's Sender to a
// live probed actor and not yet received) plus the Receive calls running in probed actors, and a channel
// closed at the next change. It satisfies Idler. See the package doc for what it cannot see.
func (p *Probe) InFlight() (int, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inFlightLocked(), p.changed
}

// String describes what is in flight, for failure messages.
func (p *Probe) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var lines []string
	for k, c := range p.flight {
		if a, ok := p.actors[k.target]; ok && !a.stopped {
			lines = append(lines, fmt.Sprintf("%T → %s (×%d)", k.env.Message, pidString(a.pid), c))
		}
	}
	sort.Strings(lines)
	return fmt.Sprintf("probe: %d records, %d Receive running, %d in flight%s", len(p.records), p.busy,
		len(lines), strings.Join(append([]string{""}, lines...), "\n  "))
}

// Records returns every record so far, in order.
func (p *Probe) Records() []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Record(nil), p.records...)
}

// Messages returns the protobuf messages of every record so far (received and sent), in order; other
// messages (protoactor's lifecycle messages, plain Go values) are left out.
func (p *Probe) Messages() []proto.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []proto.Message
	for _, r := range p.records {
		if m, ok := r.Message.(proto.Message); ok {
			out = append(out, m)
		}
	}
	return out
}

// WaitFor waits for a protobuf message, received or sent, that satisfies match, among the records after the
// one the previous WaitFor or WaitForRecord returned, and returns it; so successive calls walk forward through
// a conversation and never return the same record twice. It blocks on the probe's change notifications (no
// polling) and fails the test after timeout of wall-clock time. Call it from the test's goroutine.
func (p *Probe) WaitFor(t testing.TB, match func(msg proto.Message) bool, timeout time.Duration) proto.Message {
	t.Helper()
	r := p.WaitForRecord(t, func(r Record) bool {
		m, ok := r.Message.(proto.Message)
		return ok && match(m)
	}, timeout)
	m, _ := r.Message.(proto.Message)
	return m
}

// WaitForRecord is WaitFor over whole records: direction, actor and peer as well as the message (of any type).
func (p *Probe) WaitForRecord(t testing.TB, match func(Record) bool, timeout time.Duration) Record {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		for i := p.cursor; i < len(p.records); i++ {
			if match(p.records[i]) {
				p.cursor = i + 1
				r := p.records[i]
				p.mu.Unlock()
				return r
			}
		}
		changed, n := p.changed, len(p.records)
		p.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("probe: no matching message within %v (%d records, the last ones:\n%s)", timeout, n, tail(p.Records(), 10))
			return Record{}
		}
	}
}

func tail(rs []Record, n int) string {
	if len(rs) > n {
		rs = rs[len(rs)-n:]
	}
	lines := make([]string, len(rs))
	for i, r := range rs {
		lines[i] = "  " + r.String()
	}
	return strings.Join(lines, "\n")
}

func pidKey(pid *actor.PID) string {
	if pid == nil {
		return ""
	}
	return pid.GetAddress() + "/" + pid.GetId()
}

func pidString(pid *actor.PID) string {
	if pid == nil {
		return "-"
	}
	return pid.GetId()
}

// internal marks the messages a probe.Actor takes from the test (spawn a child, send as the double): the
// middlewares count them in flight but do not record them.
type internal interface{ probeInternal() }
