package custom

import (
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// groupProps is the actor that spawns actors of scope, each under the supervisor it states, and passes them
// the pod's events its scope hears (EventsOf). The group hears them itself (host.Props.Events), from the
// moment its parent spawns it: the leader spawns it before the model, so no ClusterConfigured of the term
// can be missed. What the actors heard last is kept across the restarts of the group and of each actor, and
// told again to every new incarnation: an actor restarted after a crash rebuilds from it (STYLE 7).
func groupProps(actors []Actor, scope Scope, envOf func(host.Context, Actor) Env) (host.Props, bool) {
	if len(actors) == 0 {
		return host.Props{}, false
	}
	mem, hears := &memory{}, EventsOf(scope)
	return host.Props{Name: Prefix, Supervisor: host.DefaultSupervisor(), Events: hears, New: func() host.Behaviour {
		return &group{actors: actors, hears: hears, envOf: envOf, mem: mem}
	}}, true
}

type group struct {
	actors   []Actor
	hears    func(proto.Message) bool
	envOf    func(host.Context, Actor) Env
	mem      *memory
	children []host.Ref
}

func (g *group) Started(ctx host.Context) {
	for i, a := range g.actors {
		env, mem := g.envOf(ctx, a), g.mem
		g.children = append(g.children, ctx.Spawn(host.Props{Name: Prefix + ":" + a.Name, Supervisor: a.Supervisor,
			New: func() host.Behaviour {
				env.Incarnation = mem.incarnation(i)
				return &wrapper{user: a.New(env), mem: mem}
			}}))
	}
}

func (g *group) Receive(ctx host.Context, msg proto.Message) {
	if !g.hears(msg) {
		return
	}
	g.mem.keep(msg)
	for _, c := range g.children {
		ctx.Send(c, msg)
	}
}

func (*group) Release(host.Context, bool) {}

// EventsOf picks the pod's publications a custom actor of scope hears. Of the two ClusterConfigured of one
// configuration (custom.proto), a pod-scope actor hears its pod's, on every pod, when the pod ran the
// phase's ok; a leader-scope actor the leader's model's, once snapshot and hash are written (and when it took
// over a clean cluster): one each, never both.
func EventsOf(scope Scope) func(proto.Message) bool {
	source := v1.ConfiguredSource_CONFIGURED_SOURCE_POD
	if scope == ScopeLeader {
		source = v1.ConfiguredSource_CONFIGURED_SOURCE_LEADER
	}
	return func(m proto.Message) bool {
		if c, ok := m.(*v1.ClusterConfigured); ok {
			return c.GetSource() == source
		}
		switch m.(type) {
		case *v1.SessionStatus, *v1.LifecycleStatus:
			return true
		}
		return false
	}
}

// memory is the last event of each kind a group heard. Incarnations run one after the other, never
// together, but on the host's goroutines: hence the lock.
type memory struct {
	mu           sync.Mutex
	incarnations map[int]uint64 // by the actor's index in its group
	session      *v1.SessionStatus
	process      *v1.LifecycleStatus
	cluster      *v1.ClusterConfigured
}

// incarnation counts one more incarnation of the group's actor i.
func (m *memory) incarnation(i int) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.incarnations == nil {
		m.incarnations = map[int]uint64{}
	}
	m.incarnations[i]++
	return m.incarnations[i]
}

func (m *memory) keep(msg proto.Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch msg := msg.(type) {
	case *v1.SessionStatus:
		m.session = msg
	case *v1.LifecycleStatus:
		m.process = msg
	case *v1.ClusterConfigured:
		m.cluster = msg
	}
}

// last is what was kept, in the order a new incarnation is told it.
func (m *memory) last() []proto.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []proto.Message
	if m.session != nil {
		out = append(out, m.session)
	}
	if m.process != nil {
		out = append(out, m.process)
	}
	if m.cluster != nil {
		out = append(out, m.cluster)
	}
	return out
}

// wrapper is one incarnation of a custom actor: the user's behaviour, told what its group heard last when
// it starts, and RoleChanged after each SessionStatus that shows a new role or lock.
type wrapper struct {
	user host.Behaviour
	mem  *memory
	role *v1.RoleChanged // the last told; nil before the first SessionStatus
}

func (w *wrapper) Started(ctx host.Context) {
	w.user.Started(aside{ctx})
	for _, m := range w.mem.last() {
		w.Receive(ctx, m)
	}
}

func (w *wrapper) Release(ctx host.Context, restarting bool) { w.user.Release(aside{ctx}, restarting) }

func (w *wrapper) Receive(ctx host.Context, msg proto.Message) {
	w.user.Receive(aside{ctx}, msg)
	st, ok := msg.(*v1.SessionStatus)
	if !ok {
		return
	}
	role := &v1.RoleChanged{Role: st.GetRole(), LockPath: st.GetLockPath()}
	if role.GetRole() == v1.Role_ROLE_UNSPECIFIED || (w.role != nil && proto.Equal(role, w.role)) {
		return
	}
	w.role = role
	w.user.Receive(aside{ctx}, role)
}

// aside is the host as a custom actor sees it: every *v1.ControlRequest it sends goes marked aside, its phase
// cleared (lifecycle.proto), so that nothing a custom actor asks the lifecycle counts as a step of the leader's
// phase: its check cannot make the phase's next step answer 409, nor can it claim a phase.
type aside struct{ host.Context }

func (c aside) Send(to host.Ref, msg proto.Message)    { c.Context.Send(to, markAside(msg)) }
func (c aside) Request(to host.Ref, msg proto.Message) { c.Context.Request(to, markAside(msg)) }

// markAside is msg, or a marked copy of it when it is a ControlRequest (the sender's is left as it was).
func markAside(msg proto.Message) proto.Message {
	req, ok := msg.(*v1.ControlRequest)
	if !ok || (req.GetAside() && req.GetPhase() == "") {
		return msg
	}
	out := proto.CloneOf(req)
	out.Aside, out.Phase = true, ""
	return out
}
