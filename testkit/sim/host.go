package sim

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// hosted is the sim as the host of a shipped behaviour (actors/host, DESIGN §4 "One actor, two hosts"): the
// behaviour's own code runs, and each of its host calls becomes a sim event: a delivery after a mailbox
// latency, a task whose ZooKeeper calls yield to the scheduler, a timer on the virtual clock.
type hosted struct {
	a      *actor
	b      host.Behaviour
	again  bool          // the incarnation ends in a restart
	sender *actor        // of the message being handled, when it was a Request
	msg    proto.Message // being handled
	acted  int           // host calls of the message being handled that act (logs and publications aside)
}

var _ host.Context = (*hosted)(nil)

func (h *hosted) start()      { h.b.Started(h) }
func (h *hosted) restarting() { h.again = true }
func (h *hosted) release()    { h.b.Release(h, h.again) }
func (h *hosted) receive(env envelope) int {
	msg, ok := env.msg.(proto.Message)
	if !ok {
		return 0
	}
	h.acted, h.sender = 0, nil
	if env.asks {
		h.sender = h.a.s.actors[env.from]
	}
	h.msg = msg
	h.b.Receive(h, msg)
	h.sender, h.msg = nil, nil
	return h.acted
}

func (h *hosted) Self() host.Ref { return h.a }

func (h *hosted) Parent() host.Ref {
	if h.a.parent == nil {
		return nil
	}
	return h.a.parent
}

func (h *hosted) Sender() host.Ref {
	if h.sender == nil {
		return nil
	}
	return h.sender
}

func (h *hosted) Send(to host.Ref, msg proto.Message) {
	if a, ok := to.(*actor); ok {
		h.acted++
		h.a.tell(a, msg)
	}
}

func (h *hosted) Request(to host.Ref, msg proto.Message) {
	if a, ok := to.(*actor); ok {
		h.acted++
		h.a.ask(a, msg)
	}
}

func (h *hosted) Respond(msg proto.Message) {
	if h.sender != nil {
		h.acted++
		h.a.tell(h.sender, msg)
	}
}

// Forward delivers the message being handled to to, as if its sender had sent it there.
func (h *hosted) Forward(to host.Ref) {
	a, ok := to.(*actor)
	if !ok || h.msg == nil {
		return
	}
	h.acted++
	h.a.forward(a, h.msg, h.sender)
}

func (h *hosted) Spawn(p host.Props) host.Ref {
	h.acted++
	return h.a.s.spawnHosted(h.a, p)
}

func (h *hosted) Stop(child host.Ref) {
	if a, ok := child.(*actor); ok {
		h.acted++
		h.a.s.stop(a)
	}
}

func (h *hosted) Go(name string, io func(host.Task)) {
	h.acted++
	h.a.s.goIO(h.a, name, func(t *task) { io(t) })
}

func (h *hosted) After(d time.Duration, msg proto.Message) host.Timer {
	h.acted++
	if t, ok := msg.(*v1.TimerFired); ok && t.GetTimer() == v1.Timer_TIMER_SUSPEND && h.a.s.opts.NoStepDown {
		return unset{} // the broken variant: a session that never steps down while cut off
	}
	return h.a.timer(d, msg)
}

// unset is a timer that was never set.
type unset struct{}

func (unset) Stop() bool { return false }

func (h *hosted) Publish(msg proto.Message) { h.a.s.publish(h.a, msg) }

// publish is Publish on the sim: traced, and delivered to the live actors of the publisher's pod whose
// host.Props.Events pick it, in the order they were spawned, each in order with what the publisher sent it
// before (protoactor's event stream is synchronous: a message of the publisher).
func (s *Sim) publish(from *actor, msg proto.Message) {
	s.trace(from.who, "publish", msg, "")
	s.published(from, msg)
	live := s.listeners[:0]
	for _, l := range s.listeners {
		if !l.alive {
			continue
		}
		live = append(live, l)
		if l.pod == from.pod && l.events(msg) {
			from.tell(l, msg)
		}
	}
	clear(s.listeners[len(live):])
	s.listeners = live
}

// Logger traces what the behaviour logs at Info and above (its debug chatter is in the messages already).
func (h *hosted) Logger() *slog.Logger { return slog.New(traceLog{a: h.a}) }

// traceLog is a slog handler that writes to the sim's trace.
type traceLog struct{ a *actor }

func (l traceLog) Enabled(_ context.Context, lvl slog.Level) bool { return lvl >= slog.LevelInfo }
func (l traceLog) Handle(_ context.Context, r slog.Record) error {
	l.a.s.trace(l.a.who, "log", nil, r.Message)
	return nil
}
func (l traceLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l traceLog) WithGroup(string) slog.Handler      { return l }

// spawnHosted starts a child running a shipped behaviour, under the supervisor it states. The session is
// watched for invariant (b) (session.go) and is the pod's session from now on; a leader's incarnations keep
// what the invariants note (hostedLeader).
func (s *Sim) spawnHosted(parent *actor, p host.Props) *actor {
	k := kindNamed(p.Name)
	a := s.spawnNamed(parent, parent.pod, k, p.Name, p.Supervisor, func(a *actor) behaviour {
		b := p.New()
		switch w, ok := b.(withConn); {
		case k == kindSession:
			return &hostedSession{hosted{a: a, b: b}}
		case ok && k == kindLeader:
			lead, _ := w.Behaviour.(interface{ Leading() bool })
			return &hostedLeader{hosted: hosted{a: a, b: b}, conn: w.conn, lostAt: -1, lead: lead}
		}
		return &hosted{a: a, b: b}
	})
	if k == kindSession {
		parent.pod.session = a
	}
	if p.Events != nil { // as protohost subscribes it: once Spawn returns
		a.events = p.Events
		s.listeners = append(s.listeners, a)
	}
	return a
}

// String names the actor in logs (host.Ref).
func (a *actor) String() string { return a.who }

// Tell is host.Task's: the task's completion, in order with its earlier ones.
func (t *task) Tell(msg proto.Message) { t.tell(msg) }

// Wait is host.Task's: the scheduler must not block, so a task waiting for something outside it (a watch's
// event) is parked, and poll tries recv after each event that made ZooKeeper emit, then resumes the task.
func (t *task) Wait(recv func(block bool) bool) {
	if recv(false) {
		return
	}
	t.parked = recv
	if !t.pause() {
		t.parked = nil // unwound at the end of the scenario: nothing comes any more
	}
}
