package custom

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
)

// names are the short names of msgs' types, a RoleChanged with its role.
func names(msgs []proto.Message) []string {
	var out []string
	for _, m := range msgs {
		name := string(m.ProtoReflect().Descriptor().Name())
		if r, ok := m.(*v1.RoleChanged); ok {
			name += "(" + protocol.Name(r.GetRole()) + ")"
		}
		out = append(out, name)
	}
	return out
}

// recorded is an Actor whose incarnations are kept in order.
func recorded(name string, scope Scope, into *[]*heard) Actor {
	return Actor{Name: name, Scope: scope, Supervisor: host.DefaultSupervisor(), New: func(env Env) host.Behaviour {
		h := &heard{env: env}
		*into = append(*into, h)
		return h
	}}
}

var web = zk.ClusterOf("ns", "web")

// podsConfigured is a pod's ClusterConfigured, of hash.
func podsConfigured(hash string) *v1.ClusterConfigured {
	return &v1.ClusterConfigured{Hash: hash, Source: v1.ConfiguredSource_CONFIGURED_SOURCE_POD}
}

// The pod's root spawns the group of the pod-scope actors; the group hears the pod's events from its spawn
// on (host.Props.Events) and passes each to every actor it spawned, under the supervisor each states.
func TestGroup_SpawnsEachActorAndPassesThemThePodsEvents(t *testing.T) {
	var a, b []*heard
	w := Wiring{Cluster: web, Key: "k1", Pod: ref("root"), Actors: []Actor{
		recorded("a", ScopePod, &a), recorded("b", ScopePod, &b), recorded("c", ScopeLeader, new([]*heard)),
	}}
	props, ok := w.PodProps()
	if !ok || props.Events == nil || props.Name != Prefix || props.Supervisor == (host.Supervisor{}) {
		t.Fatalf("pod props %+v: want a group named %q hearing events, with a supervisor", props, Prefix)
	}
	ctx := &context{self: ref("group")}
	g := props.New()
	g.Started(ctx)
	if got := []string{ctx.spawned[0].Name, ctx.spawned[1].Name}; len(ctx.spawned) != 2 || !slices.Equal(got, []string{"custom:a", "custom:b"}) {
		t.Fatalf("spawned %d actors %v, want custom:a and custom:b (c is leader-scope)", len(ctx.spawned), got)
	}
	for _, p := range ctx.spawned {
		p.New().Started(ctx)
	}
	if a[0].env.Pod != ref("root") || a[0].env.Nodes != nil || a[0].env.Key != "k1" || a[0].env.Incarnation != 1 {
		t.Fatalf("env %+v: want the pod's root, no nodes in pod scope, the key, incarnation 1", a[0].env)
	}
	w.Pod = nil // not known when wired: the group's parent is the pod's root
	unnamed, _ := w.PodProps()
	unnamed.New().Started(ctx)
	ctx.spawned[len(ctx.spawned)-1].New().Started(ctx)
	if pod := b[len(b)-1].env.Pod; pod != ref("parent") {
		t.Fatalf("Env.Pod %v with no root wired, want the group's parent", pod)
	}
	leaders := &v1.ClusterConfigured{Hash: "h", Source: v1.ConfiguredSource_CONFIGURED_SOURCE_LEADER}
	for _, m := range []proto.Message{&v1.SessionStatus{Key: "k1"}, &v1.ModelStatus{}, &v1.LifecycleStatus{}, leaders, podsConfigured("h")} {
		if hears := m != leaders && m.ProtoReflect().Descriptor().Name() != "ModelStatus"; props.Events(m) != hears {
			t.Errorf("Events(%v) = %v", m, props.Events(m))
		}
		g.Receive(ctx, m)
	}
	var to []string
	for _, s := range ctx.sent {
		to = append(to, s.to.String()+" "+string(s.msg.ProtoReflect().Descriptor().Name()))
	}
	want := []string{"custom:a#1 SessionStatus", "custom:b#2 SessionStatus", "custom:a#1 LifecycleStatus", "custom:b#2 LifecycleStatus",
		"custom:a#1 ClusterConfigured", "custom:b#2 ClusterConfigured"}
	if !slices.Equal(to, want) {
		t.Fatalf("sent %q, want %q", to, want)
	}
}

// A custom actor is told RoleChanged after each SessionStatus that shows a new role or lock, once.
func TestWrapper_TellsRoleChangedOncePerNewRole(t *testing.T) {
	var a []*heard
	props, _ := Wiring{Cluster: web, Actors: []Actor{recorded("a", ScopePod, &a)}}.PodProps()
	ctx := &context{}
	props.New().Started(ctx)
	w := ctx.spawned[0].New()
	w.Started(ctx)
	for _, st := range []*v1.SessionStatus{
		{Connected: false},                    // no role yet
		{Role: v1.Role_ROLE_FOLLOWER},         // follower
		{Role: v1.Role_ROLE_FOLLOWER, Seq: 3}, // the same role
		{Role: v1.Role_ROLE_LEADER, LockPath: "/l1"},
		{Role: v1.Role_ROLE_LEADER, LockPath: "/l2"}, // a new lock is a new term
		{Role: v1.Role_ROLE_FOLLOWER},
	} {
		w.Receive(ctx, st)
	}
	want := []string{"SessionStatus", "SessionStatus", "RoleChanged(follower)", "SessionStatus", "SessionStatus", "RoleChanged(leader)",
		"SessionStatus", "RoleChanged(leader)", "SessionStatus", "RoleChanged(follower)"}
	if got := names(a[0].got); !slices.Equal(got, want) {
		t.Fatalf("told %q, want %q", got, want)
	}
	if lock := a[0].got[7].(*v1.RoleChanged).GetLockPath(); lock != "/l2" {
		t.Fatalf("second leader term's lock %q, want /l2", lock)
	}
}

// An incarnation restarted after a crash, even under a restarted group, is told the last event of each kind
// the group heard, and counts one more incarnation (its epochs start past its predecessor's).
func TestWrapper_ARestartedIncarnationIsToldTheLastEvents(t *testing.T) {
	var a []*heard
	props, _ := Wiring{Cluster: web, Actors: []Actor{recorded("a", ScopePod, &a)}}.PodProps()
	ctx := &context{}
	g := props.New()
	g.Started(ctx)
	ctx.spawned[0].New().Started(ctx)
	for _, m := range []proto.Message{podsConfigured("old"), &v1.SessionStatus{Role: v1.Role_ROLE_LEADER, LockPath: "/l"},
		&v1.LifecycleStatus{Starts: 1}, podsConfigured("new")} {
		g.Receive(ctx, m)
	}
	restarted := ctx.spawned[0].New() // the host's restart after a crash: same props, new incarnation
	restarted.Started(ctx)
	got := a[1]
	if !got.started || got.env.Incarnation != 2 {
		t.Fatalf("second incarnation: started %v, incarnation %d, want started and 2", got.started, got.env.Incarnation)
	}
	if want := []string{"SessionStatus", "RoleChanged(leader)", "LifecycleStatus", "ClusterConfigured"}; !slices.Equal(names(got.got), want) {
		t.Fatalf("told %q, want %q", names(got.got), want)
	}
	if h := got.got[3].(*v1.ClusterConfigured).GetHash(); h != "new" {
		t.Fatalf("told the cluster of hash %q, want the last one", h)
	}

	again := props.New() // the group itself restarted: its actors start again, with what it heard
	again.Started(ctx)
	ctx.spawned[len(ctx.spawned)-1].New().Started(ctx)
	if third := a[2]; third.env.Incarnation != 3 || len(third.got) != 4 {
		t.Fatalf("after the group's restart: incarnation %d, told %q", third.env.Incarnation, names(third.got))
	}
}

// DESIGN §4: one ClusterConfigured per configuration for each actor. A pod-scope actor hears its pod's (every
// pod publishes one when it ran the phase's ok), never the leader model's of the same configuration, which is
// what a leader-scope actor hears (snapshot and hash written), and only that one.
func TestGroup_EachScopeHearsOneClusterConfiguredPerConfiguration(t *testing.T) {
	w := Wiring{Cluster: web, Key: "k", Actors: []Actor{recorded("a", ScopePod, new([]*heard)), recorded("b", ScopeLeader, new([]*heard))}}
	podProps, _ := w.PodProps()
	for _, c := range []struct {
		props host.Props
		want  v1.ConfiguredSource
	}{{podProps, v1.ConfiguredSource_CONFIGURED_SOURCE_POD}, {w.Leader()(nil, "/lock"), v1.ConfiguredSource_CONFIGURED_SOURCE_LEADER}} {
		ctx := &context{}
		g := c.props.New()
		g.Started(ctx)
		sources := []v1.ConfiguredSource{v1.ConfiguredSource_CONFIGURED_SOURCE_POD, v1.ConfiguredSource_CONFIGURED_SOURCE_LEADER, v1.ConfiguredSource_CONFIGURED_SOURCE_UNSPECIFIED}
		for _, s := range sources {
			m := &v1.ClusterConfigured{Hash: "h", Phase: "/lock.1", Source: s}
			if c.props.Events(m) != (s == c.want) {
				t.Errorf("%s group: Events(%s) = %v", c.props.Name, s, !(s == c.want))
			}
			g.Receive(ctx, m)
		}
		if len(ctx.sent) != 1 || ctx.sent[0].msg.(*v1.ClusterConfigured).GetSource() != c.want {
			t.Fatalf("passed on %v, want the one ClusterConfigured of source %s", ctx.sent, c.want)
		}
	}
}

// A custom actor's requests to the lifecycle go aside (lifecycle.proto): no step of a leader's phase, so its
// check cannot make the phase's next step answer 409, nor can it name a phase. The actor's own message is
// left as it was.
func TestWrapper_ACustomActorsControlRequestsGoAside(t *testing.T) {
	mine := &v1.ControlRequest{Task: v1.Task_TASK_CHECK, Phase: "/forged.1"}
	props, _ := Wiring{Cluster: web, Pod: ref("root"), Actors: []Actor{{Name: "a", Scope: ScopePod, Supervisor: host.DefaultSupervisor(),
		New: func(env Env) host.Behaviour { return asker{env: env, req: mine} }}}}.PodProps()
	ctx := &context{}
	props.New().Started(ctx)
	w := ctx.spawned[0].New()
	w.Started(ctx)
	w.Receive(ctx, &v1.LifecycleStatus{})
	if len(ctx.sent) != 2 {
		t.Fatalf("sent %v, want the Request of Started and the Send of Receive", ctx.sent)
	}
	for _, s := range ctx.sent {
		req, ok := s.msg.(*v1.ControlRequest)
		if !ok || s.to != ref("root") || !req.GetAside() || req.GetPhase() != "" || req.GetTask() != v1.Task_TASK_CHECK {
			t.Fatalf("sent %v to %v, want the check to the root, aside, no phase", s.msg, s.to)
		}
	}
	if mine.GetAside() || mine.GetPhase() != "/forged.1" {
		t.Fatalf("the actor's own message was changed: %v", mine)
	}
}

// asker asks the lifecycle req as it starts (Request) and whenever it hears something (Send).
type asker struct {
	env Env
	req *v1.ControlRequest
}

func (a asker) Started(ctx host.Context)                  { ctx.Request(a.env.Pod, a.req) }
func (a asker) Release(host.Context, bool)                {}
func (a asker) Receive(ctx host.Context, _ proto.Message) { ctx.Send(a.env.Pod, a.req) }

// The leader spawns the leader-scope group with its lock: each actor's nodes are its own, fenced by it.
func TestWiring_LeaderScopeActorsGetTheirNodesFencedByTheLock(t *testing.T) {
	if (Wiring{Actors: []Actor{recorded("a", ScopePod, new([]*heard))}}).Leader() != nil {
		t.Fatal("a leader worker without leader-scope actors")
	}
	var b []*heard
	w := Wiring{Cluster: web, Key: "k", Actors: []Actor{recorded("a", ScopePod, new([]*heard)), recorded("b", ScopeLeader, &b)}}
	props := w.Leader()(nil, "/lock-1")
	ctx := &context{}
	props.New().Started(ctx)
	if len(ctx.spawned) != 1 || ctx.spawned[0].Name != "custom:b" {
		t.Fatalf("spawned %d, want custom:b alone", len(ctx.spawned))
	}
	ctx.spawned[0].New().Started(ctx)
	n := b[0].env.Nodes
	if n == nil || n.Lock() != "/lock-1" {
		t.Fatalf("nodes %+v, want fenced by /lock-1", n)
	}
	if p, _ := n.Path("x/y"); p != "/ochopod/clusters/ns.web/actors/b/x/y" {
		t.Fatalf("node x/y is %s", p)
	}
}

func TestValidate_SaysWhatIsWrong(t *testing.T) {
	ok := Actor{Name: "a", Scope: ScopePod, Supervisor: host.DefaultSupervisor(), New: func(Env) host.Behaviour { return &heard{} }}
	if err := Validate([]Actor{ok}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		bad  func(a Actor) []Actor
	}{
		{"not a ZooKeeper node name", func(a Actor) []Actor { a.Name = "a/b"; return []Actor{a} }},
		{"two actors of that name", func(a Actor) []Actor { return []Actor{a, a} }},
		{"neither pod nor leader", func(a Actor) []Actor { a.Scope = 0; return []Actor{a} }},
		{"no supervisor stated", func(a Actor) []Actor { a.Supervisor = host.Supervisor{}; return []Actor{a} }},
		{"no constructor", func(a Actor) []Actor { a.New = nil; return []Actor{a} }},
	} {
		err := Validate(c.bad(ok))
		if err == nil || !strings.Contains(err.Error(), c.what) {
			t.Errorf("%s: got %v", c.what, err)
		}
	}
}
