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
	for _, m := range []proto.Message{&v1.SessionStatus{Key: "k1"}, &v1.ModelStatus{}, &v1.LifecycleStatus{}, &v1.ClusterConfigured{Hash: "h"}} {
		if Events(m) != (m.ProtoReflect().Descriptor().Name() != "ModelStatus") {
			t.Errorf("Events(%T) = %v", m, Events(m))
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
	for _, m := range []proto.Message{&v1.ClusterConfigured{Hash: "old"}, &v1.SessionStatus{Role: v1.Role_ROLE_LEADER, LockPath: "/l"},
		&v1.LifecycleStatus{Starts: 1}, &v1.ClusterConfigured{Hash: "new"}} {
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
