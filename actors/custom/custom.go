package custom

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/leader"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Scope is how long a custom actor lives.
type Scope int

const (
	// ScopePod: as long as the pod.
	ScopePod Scope = iota + 1
	// ScopeLeader: while the pod holds the leader lock; started when it wins it, stopped when it loses it.
	ScopeLeader
)

func (s Scope) String() string {
	switch s {
	case ScopePod:
		return "pod"
	case ScopeLeader:
		return "leader"
	}
	return fmt.Sprintf("scope(%d)", int(s))
}

// Actor is one actor a program adds to its pods.
type Actor struct {
	// Name names the actor in logs and traces, and its nodes (Nodes): a ZooKeeper node name, unique in the pod.
	Name  string
	Scope Scope
	// Supervisor restarts the actor after a crash. It must be stated: no actor falls back on a default.
	Supervisor host.Supervisor
	// New makes an incarnation: at the start, and again after each crash.
	New func(env Env) host.Behaviour
}

// Env is what the pod gives each incarnation of a custom actor.
type Env struct {
	Cluster zk.Cluster
	Key     string // the pod's key
	// Pod is the pod's root: a *v1.ControlRequest sent to it with Request reaches the lifecycle (DESIGN §6),
	// and the *v1.ControlReply comes back to the sender.
	Pod host.Ref
	// Nodes are the actor's own nodes, written fenced by the leader's lock (DESIGN §7); nil in pod scope.
	Nodes *Nodes
	// Incarnation counts the actor's incarnations in its group: 1, then one more after each crash. Epochs
	// of its work can start past the previous incarnation's (Incarnation<<32), so it tells its own
	// completions from its predecessor's (STYLE 2).
	Incarnation uint64
}

// Prefix starts the host name of every custom actor ("custom:<name>") and of the groups that spawn them
// ("custom"), so hosts and traces tell them from the built-in actors.
const Prefix = "custom"

// Validate says what is wrong with actors, if anything: pod.Start and the simulation refuse them then.
func Validate(actors []Actor) error {
	seen := map[string]bool{}
	var errs []error
	for i, a := range actors {
		switch {
		case a.Name == "" || a.Name == "." || a.Name == ".." || strings.ContainsAny(a.Name, "/\x00"):
			errs = append(errs, fmt.Errorf("actor %d: name %q is not a ZooKeeper node name", i, a.Name))
		case seen[a.Name]:
			errs = append(errs, fmt.Errorf("actor %q: two actors of that name", a.Name))
		}
		seen[a.Name] = true
		if a.Scope != ScopePod && a.Scope != ScopeLeader {
			errs = append(errs, fmt.Errorf("actor %q: %s is neither pod nor leader", a.Name, a.Scope))
		}
		if a.Supervisor == (host.Supervisor{}) {
			errs = append(errs, fmt.Errorf("actor %q: no supervisor stated", a.Name))
		}
		if a.New == nil {
			errs = append(errs, fmt.Errorf("actor %q: no constructor", a.Name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("custom actors: %w", err)
	}
	return nil
}

// Wiring is a pod's custom actors as runtime/pod and the simulation wire them: the pod's root spawns
// PodProps, the leader spawns Leader's props with its worker.
type Wiring struct {
	Actors  []Actor
	Cluster zk.Cluster
	Key     string
	// Pod is the pod's root (Env.Pod); nil: the pod-scope actors take their group's parent, which is the
	// root, and the leader-scope ones have none.
	Pod host.Ref
}

// PodProps is the group of the pod-scope actors, which the pod's root spawns; false when there is none.
func (w Wiring) PodProps() (host.Props, bool) {
	return groupProps(w.of(ScopePod), ScopePod, func(ctx host.Context, _ Actor) Env {
		env := Env{Cluster: w.Cluster, Key: w.Key, Pod: w.Pod}
		if env.Pod == nil {
			env.Pod = ctx.Parent()
		}
		return env
	})
}

// Leader is what the leader spawns while it holds the lock (leader.Config.Custom): the group of the
// leader-scope actors, each with its own nodes fenced by lock. nil when there is none.
func (w Wiring) Leader() leader.WorkerProps {
	actors := w.of(ScopeLeader)
	if len(actors) == 0 {
		return nil
	}
	return func(conn zk.Conn, lock string) host.Props {
		p, _ := groupProps(actors, ScopeLeader, func(_ host.Context, a Actor) Env {
			return Env{Cluster: w.Cluster, Key: w.Key, Pod: w.Pod, Nodes: NewNodes(conn, lock, w.Cluster, a.Name)}
		})
		return p
	}
}

func (w Wiring) of(scope Scope) []Actor {
	var out []Actor
	for _, a := range w.Actors {
		if a.Scope == scope {
			out = append(out, a)
		}
	}
	return out
}
