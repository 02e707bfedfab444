// Package protohost is the production host of the actors' behaviours (actors/host, DESIGN §4): each behaviour
// runs as a protoactor-go actor. Tasks are goroutines, timers run on the pod's clock port, Publish goes to the
// actor system's event stream, and each child is restarted as its stated supervisor says (runtime/supervise),
// on the same clock.
package protohost

import (
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/supervise"
)

// Env is what every actor of a tree shares: the clock of its timers and restarts, and the logger.
type Env struct {
	Clock  clock.Clock  // nil: the wall clock
	Logger *slog.Logger // nil: discard
	// Options are added to the props of every actor of the tree (a test's probe.Options, testkit/probe).
	Options []actor.PropsOption
}

func (e Env) withDefaults() Env {
	if e.Clock == nil {
		e.Clock = clock.Real{}
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	return e
}

// Props makes protoactor props of a behaviour's props. The actor's children are restarted as each states; p's
// own Supervisor applies when its parent is a host actor too (a protoactor parent applies its own strategy).
func Props(p host.Props, env Env) *actor.Props {
	props, _ := newProps(p, env)
	return props
}

// newProps is Props, and the subscription of the actor to the event stream when p states Events.
func newProps(p host.Props, env Env) (*actor.Props, *events) {
	env = env.withDefaults()
	log := env.Logger.With("actor", p.Name)
	children := supervise.NewStrategy(supervise.DefaultPolicy(), env.Clock, log)
	var evs *events
	if p.Events != nil {
		evs = &events{accept: p.Events}
	}
	opts := append([]actor.PropsOption{actor.WithSupervisor(children)}, env.Options...)
	return actor.PropsFromProducer(func() actor.Actor {
		return &adapter{props: p, env: env, log: log, children: children, b: p.New(), events: evs}
	}, opts...), evs
}

// Spawn starts p at the top of a tree, named name, under the supervisor p states (a guardian applying it on
// env's clock), not protoactor's default.
func Spawn(root *actor.RootContext, name string, p host.Props, env Env) (*actor.PID, error) {
	env = env.withDefaults()
	guardian := supervise.NewStrategy(p.Supervisor, env.Clock, env.Logger.With("actor", p.Name))
	return root.SpawnNamed(Props(p, env).Configure(actor.WithGuardian(guardian)), name)
}

// events is an actor's subscription to the event stream (host.Props.Events): made by a host parent's Spawn
// before it returns, or else by the actor when it starts (the top of a tree, or a parent that is no host actor);
// kept across its restarts, ended when it stops.
type events struct {
	accept func(proto.Message) bool
	mu     sync.Mutex
	sub    *eventstream.Subscription
}

func (e *events) subscribe(sys *actor.ActorSystem, pid *actor.PID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sub != nil {
		return
	}
	e.sub = sys.EventStream.Subscribe(func(evt any) {
		if m, ok := evt.(proto.Message); ok && e.accept(m) {
			sys.Root.Send(pid, m)
		}
	})
}

func (e *events) unsubscribe(sys *actor.ActorSystem) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sub != nil {
		sys.EventStream.Unsubscribe(e.sub)
		e.sub = nil
	}
}

// Ref is the host.Ref of a protoactor pid: comparable, so refs of one actor are equal.
type Ref struct{ Address, ID string }

func (r Ref) String() string { return r.ID }

// PID is the protoactor pid of r.
func (r Ref) PID() *actor.PID { return actor.NewPID(r.Address, r.ID) }

// RefOf is pid as a host.Ref; nil for nil.
func RefOf(pid *actor.PID) host.Ref {
	if pid == nil {
		return nil
	}
	return Ref{Address: pid.Address, ID: pid.Id}
}

func pidOf(r host.Ref) *actor.PID {
	if ref, ok := r.(Ref); ok {
		return ref.PID()
	}
	return nil
}

type adapter struct {
	props    host.Props
	env      Env
	log      *slog.Logger
	children *supervise.Strategy
	b        host.Behaviour
	events   *events // nil: it hears no publication
}

// Receive is the protoactor entry point.
func (a *adapter) Receive(ac actor.Context) {
	c := &hostContext{ac: ac, a: a}
	switch msg := ac.Message().(type) {
	case *actor.Started:
		if a.events != nil {
			a.events.subscribe(ac.ActorSystem(), ac.Self())
		}
		a.b.Started(c)
	case *actor.Stopped:
		if a.events != nil {
			a.events.unsubscribe(ac.ActorSystem())
		}
	case *actor.Stopping:
		a.b.Release(c, false)
	case *actor.Restarting:
		a.b.Release(c, true)
	case *actor.Terminated:
		a.children.Forget(msg.GetWho().GetId())
	case proto.Message:
		a.b.Receive(c, msg)
	}
}

// hostContext is host.Context over one protoactor context.
type hostContext struct {
	ac actor.Context
	a  *adapter
}

var _ host.Context = (*hostContext)(nil)

func (c *hostContext) Self() host.Ref   { return RefOf(c.ac.Self()) }
func (c *hostContext) Parent() host.Ref { return RefOf(c.ac.Parent()) }
func (c *hostContext) Sender() host.Ref { return RefOf(c.ac.Sender()) }

func (c *hostContext) Send(to host.Ref, msg proto.Message) {
	if pid := pidOf(to); pid != nil {
		c.ac.Send(pid, msg)
	}
}

func (c *hostContext) Request(to host.Ref, msg proto.Message) {
	if pid := pidOf(to); pid != nil {
		c.ac.Request(pid, msg)
	}
}

func (c *hostContext) Respond(msg proto.Message) {
	if c.ac.Sender() != nil {
		c.ac.Respond(msg)
	}
}

func (c *hostContext) Forward(to host.Ref) {
	if pid := pidOf(to); pid != nil {
		c.ac.Forward(pid)
	}
}

func (c *hostContext) Spawn(p host.Props) host.Ref {
	props, evs := newProps(p, c.a.env)
	pid := c.ac.Spawn(props)
	c.a.children.State(pid.Id, p.Supervisor)
	if evs != nil { // now, before anything the parent does next publishes
		evs.subscribe(c.ac.ActorSystem(), pid)
	}
	return RefOf(pid)
}

func (c *hostContext) Stop(child host.Ref) {
	if pid := pidOf(child); pid != nil {
		c.ac.Stop(pid)
		c.a.children.Forget(pid.Id)
	}
}

func (c *hostContext) Go(_ string, io func(host.Task)) {
	go io(task{tell: c.tell()})
}

func (c *hostContext) After(d time.Duration, msg proto.Message) host.Timer {
	tell := c.tell()
	return c.a.env.Clock.AfterFunc(d, func() { tell(msg) })
}

func (c *hostContext) Publish(msg proto.Message) { c.ac.ActorSystem().EventStream.Publish(msg) }

func (c *hostContext) Logger() *slog.Logger { return c.a.log }

// tell delivers to this actor from any goroutine.
func (c *hostContext) tell() func(proto.Message) {
	root, self := c.ac.ActorSystem().Root, c.ac.Self()
	return func(m proto.Message) { root.Send(self, m) }
}

// task is a goroutine: it blocks where it waits.
type task struct{ tell func(proto.Message) }

func (t task) Tell(msg proto.Message)          { t.tell(msg) }
func (t task) Wait(recv func(block bool) bool) { recv(true) }
