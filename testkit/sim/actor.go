package sim

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/custom"
	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/supervise"
)

// kind names the actors the sim runs per pod (DESIGN §4: root → session → leader → model → watchers, and
// root → lifecycle → executor), and the requests from outside the tree (an API call's reply address).
type kind int

const (
	kindSession kind = iota
	kindLeader
	kindModel
	kindWatchers
	kindPhase
	kindRoot
	kindCustom // a custom actor, or the group that spawns them (actors/custom)
	kindLifecycle
	kindExecutor
	kindCall
)

// kindNamed is the kind of a host.Props's name.
func kindNamed(name string) kind {
	switch name {
	case "session":
		return kindSession
	case "leader":
		return kindLeader
	case "model":
		return kindModel
	case "root":
		return kindRoot
	case "lifecycle":
		return kindLifecycle
	case "executor":
		return kindExecutor
	case "phase":
		return kindPhase
	}
	if strings.HasPrefix(name, custom.Prefix) {
		return kindCustom
	}
	return kindWatchers
}

func (k kind) String() string {
	switch k {
	case kindSession:
		return "session"
	case kindLeader:
		return "leader"
	case kindModel:
		return "model"
	case kindPhase:
		return "phase"
	case kindRoot:
		return "root"
	case kindCustom:
		return "custom"
	case kindLifecycle:
		return "lifecycle"
	case kindExecutor:
		return "executor"
	case kindCall:
		return "call"
	}
	return "watchers"
}

// behaviour is one incarnation of an actor: the sim's adapter around a production machine, doing what the
// package's actor.go does with protoactor, synchronously or through the sim's events.
type behaviour interface {
	start()                   // protoactor's Started
	receive(env envelope) int // a message; returns how many effects (logs aside) the machine answered with
	release()                 // protoactor's Stopping or Restarting
}

// actor is what protoactor keeps across restarts: the pid (the mailbox), the parent, the supervisor's
// memory. Its behaviour is new at each incarnation, as a protoactor producer makes a new actor.
type actor struct {
	s        *Sim
	pid      int
	kind     kind
	pod      *pod
	parent   *actor
	children []*actor
	props    func(a *actor) behaviour
	impl     behaviour
	inc      int // incarnation: 0, then one more per restart
	who      string
	alive    bool
	// suspended: crashed, waiting for the supervisor's restart; messages are held until then.
	suspended bool
	held      []envelope
	crashes   []time.Time     // the supervisor's history of this child
	sup       host.Supervisor // the supervisor it states (runtime/pod's restarts for the sim's own adapters)
	label     string          // what the trace calls it: its kind, or a custom actor's name
	// events picks what it hears of its pod's publications (host.Props.Events); nil: nothing.
	events func(proto.Message) bool
}

// envelope is a message on its way to an actor.
type envelope struct {
	to, from int
	inc      int  // the recipient's incarnation that issued the work this completes; -1 if none
	asks     bool // sent with Request: the recipient may Respond
	msg      any
}

// spawn starts a child actor (ctx.Spawn): a new pid, Started at once.
func (s *Sim) spawn(parent *actor, p *pod, k kind, props func(a *actor) behaviour) *actor {
	return s.spawnWith(parent, p, k, supervise.DefaultPolicy(), props)
}

// spawnWith is spawn under a stated supervisor.
func (s *Sim) spawnWith(parent *actor, p *pod, k kind, sup host.Supervisor, props func(a *actor) behaviour) *actor {
	return s.spawnNamed(parent, p, k, "", sup, props)
}

// spawnNamed is spawnWith for an actor of props named name: a custom actor is traced by its name.
func (s *Sim) spawnNamed(parent *actor, p *pod, k kind, name string, sup host.Supervisor, props func(a *actor) behaviour) *actor {
	s.nextPID++
	a := &actor{s: s, pid: s.nextPID, kind: k, pod: p, parent: parent, props: props, alive: true, sup: sup, label: k.String()}
	if k == kindCustom {
		a.label = name
	}
	a.who = fmt.Sprintf("%s/%s %s#%d", p.cl.name, p.key, a.label, a.pid)
	if parent != nil {
		parent.children = append(parent.children, a)
	}
	s.actors[a.pid] = a
	s.touch(p.cl)
	s.trace(a.who, "spawn", nil, "")
	a.impl = props(a)
	a.impl.start()
	return a
}

// stop stops an actor and its children (ctx.Stop): Stopping, then the children, then the pid is dead and
// whatever is still sent to it is a dead letter.
func (s *Sim) stop(a *actor) {
	if a == nil || !a.alive {
		return
	}
	s.touch(a.pod.cl)
	a.impl.release()
	s.markReady(a.pod) // its release may have closed a channel a task of the pod waits on
	s.cancelled(a.pid)
	s.stopChildren(a)
	a.alive = false
	delete(s.actors, a.pid)
	if a.parent != nil {
		a.parent.children = remove(a.parent.children, a)
	}
	s.trace(a.who, "stopped", nil, "")
}

// vanish ends an actor and its children with the process (a killed pod): no hook runs.
func (s *Sim) vanish(a *actor) {
	if a == nil || !a.alive {
		return
	}
	s.touch(a.pod.cl)
	for _, c := range append([]*actor(nil), a.children...) {
		s.vanish(c)
	}
	a.alive = false
	delete(s.actors, a.pid)
}

func (s *Sim) stopChildren(a *actor) {
	for _, c := range append([]*actor(nil), a.children...) {
		s.stop(c)
	}
}

func remove(list []*actor, a *actor) []*actor {
	for i, x := range list {
		if x == a {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

// crash makes the actor panic. As under protoactor, its mailbox is suspended and it is restarted after the
// delay of the supervisor it states (actors/host, runtime/supervise).
// Until then its children keep running and its messages wait. The restart runs Restarting on the old
// incarnation, stops the children, and starts a new incarnation under the same pid, which then receives the
// held messages, including the completions of work the old incarnation started.
func (s *Sim) crash(a *actor) {
	if !a.alive || a.suspended {
		return
	}
	a.suspended = true
	s.touch(a.pod.cl)
	var delay time.Duration
	delay, a.crashes = a.sup.Decide(a.crashes, s.clk.Now())
	s.trace(a.who, "crash", nil, "restart in "+delay.String())
	if delay == 0 {
		s.deleteLockOnCrash(a) // stale.go
	}
	s.at(delay, func() { s.restart(a) })
}

func (s *Sim) restart(a *actor) {
	if !a.alive {
		return
	}
	s.touch(a.pod.cl)
	if r, ok := a.impl.(interface{ restarting() }); ok {
		r.restarting() // protoactor's Restarting, before the common release
	}
	a.impl.release()
	s.markReady(a.pod) // its release may have closed a channel a task of the pod waits on
	s.cancelled(a.pid)
	s.stopChildren(a)
	a.inc++
	a.who = fmt.Sprintf("%s/%s %s#%d.%d", a.pod.cl.name, a.pod.key, a.label, a.pid, a.inc)
	a.suspended = false
	s.trace(a.who, "restart", nil, "")
	a.impl = a.props(a)
	a.impl.start()
	held := a.held
	a.held = nil
	for _, env := range held {
		s.at(0, func() { s.deliver(env) })
	}
}

// deliver hands a message to its actor, holds it while the actor is suspended, or drops it as a dead letter.
func (s *Sim) deliver(env envelope) {
	a := s.actors[env.to]
	if a == nil {
		return
	}
	if a.suspended {
		a.held = append(a.held, env)
		return
	}
	s.touchLeader(a)
	s.trace(a.who, "<-", env.msg, "")
	n := a.impl.receive(env)
	s.markReady(a.pod) // what it did may have closed a channel a task of the pod waits on (a quit)
	s.cancelled(a.pid)
	if env.inc >= 0 && env.inc != a.inc && n > 0 {
		s.advise(fmt.Sprintf("%s: a restarted incarnation acted on a %T its previous incarnation's work sent", a.kind, env.msg))
	}
}

// completion sends msg to the actor from work its current incarnation started (a reply on ch).
func (a *actor) completion(ch *channel, msg any) {
	a.s.send(ch, a.pid, a.pid, a.inc, msg)
}

// tell sends msg to another actor, in order with a's earlier messages to it.
func (a *actor) tell(to *actor, msg any) {
	if to == nil {
		return
	}
	a.s.send(a.s.pair(a.pid, to.pid), to.pid, a.pid, -1, msg)
}

// ask is tell with a as the sender, which the recipient may answer (host.Context's Request).
func (a *actor) ask(to *actor, msg any) {
	if to == nil || a.s.ending {
		return
	}
	s, from := a.s, a.pid
	s.on(s.pair(a.pid, to.pid), func() { s.deliver(envelope{to: to.pid, from: from, inc: -1, asks: true, msg: msg}) })
}

// forward passes msg on to another actor (host.Context's Forward): in order with a's messages to it, with
// sender as its sender (nil: none), who gets the answer.
func (a *actor) forward(to *actor, msg any, sender *actor) {
	if sender == nil {
		a.tell(to, msg)
		return
	}
	if a.s.ending {
		return
	}
	s, from := a.s, sender.pid
	s.on(s.pair(a.pid, to.pid), func() { s.deliver(envelope{to: to.pid, from: from, inc: -1, asks: true, msg: msg}) })
}

// timer fires msg into the actor after d, as its adapter's clock.AfterFunc does.
func (a *actor) timer(d time.Duration, msg any) clock.Timer {
	pid, inc, s := a.pid, a.inc, a.s
	return s.at(d, func() { s.deliver(envelope{to: pid, from: pid, inc: inc, msg: msg}) })
}
