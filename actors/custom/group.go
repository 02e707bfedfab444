package custom

import (
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// groupProps is the actor that spawns actors, each under the supervisor it states, and passes them the
// pod's events. The group hears them itself (host.Props.Events), from the moment its parent spawns it: the
// leader spawns it before the model, so no ClusterConfigured of the term can be missed. What the actors
// heard last is kept across the restarts of the group and of each actor, and told again to every new
// incarnation: an actor restarted after a crash rebuilds from it (STYLE 7).
func groupProps(actors []Actor, envOf func(host.Context, Actor) Env) (host.Props, bool) {
	if len(actors) == 0 {
		return host.Props{}, false
	}
	mem := &memory{}
	return host.Props{Name: Prefix, Supervisor: host.DefaultSupervisor(), Events: Events, New: func() host.Behaviour {
		return &group{actors: actors, envOf: envOf, mem: mem}
	}}, true
}

type group struct {
	actors   []Actor
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
	if !Events(msg) {
		return
	}
	g.mem.keep(msg)
	for _, c := range g.children {
		ctx.Send(c, msg)
	}
}

func (*group) Release(host.Context, bool) {}

// Events picks the pod's publications a custom actor hears.
func Events(m proto.Message) bool {
	switch m.(type) {
	case *v1.SessionStatus, *v1.LifecycleStatus, *v1.ClusterConfigured:
		return true
	}
	return false
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
	w.user.Started(ctx)
	for _, m := range w.mem.last() {
		w.Receive(ctx, m)
	}
}

func (w *wrapper) Release(ctx host.Context, restarting bool) { w.user.Release(ctx, restarting) }

func (w *wrapper) Receive(ctx host.Context, msg proto.Message) {
	w.user.Receive(ctx, msg)
	st, ok := msg.(*v1.SessionStatus)
	if !ok {
		return
	}
	role := &v1.RoleChanged{Role: st.GetRole(), LockPath: st.GetLockPath()}
	if role.GetRole() == v1.Role_ROLE_UNSPECIFIED || (w.role != nil && proto.Equal(role, w.role)) {
		return
	}
	w.role = role
	w.user.Receive(ctx, role)
}
