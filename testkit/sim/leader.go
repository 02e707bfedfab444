package sim

import (
	"time"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/leader"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/supervise"
	"github.com/ochopod/ochopod/runtime/zk"
)

// hostedLeader is one incarnation of the shipped leader behaviour (actors/leader), with what the invariants
// note about it.
type hostedLeader struct {
	hosted
	conn   zk.Conn
	lostAt time.Duration // when the sim saw the lock node it believes it holds gone; -1: it is there
}

// leaderProps is the leader child of a session on its client, as runtime/pod wires it: the shipped leader,
// in a sim incarnation that keeps what the invariants note. The model it runs under the lock is still the
// sim's adapter (model.go).
func (s *Sim) leaderProps(p *pod, conn zk.Conn) host.Props {
	props := leader.Props(leader.Config{
		Conn: conn, Cluster: p.cl.zc, Key: p.key, Backoff: s.topo.backoff, Supervisor: supervise.DefaultPolicy(),
		Custom: s.wiring(p, p.root).Leader(),
		Worker: func(conn zk.Conn, lock string) host.Props {
			return host.Props{Name: "model", Supervisor: supervise.DefaultPolicy(),
				Native: func(a *actor) behaviour { return newModelAdapter(a, conn, lock) }}
		},
	})
	return host.Props{Name: props.Name, Supervisor: props.Supervisor, Native: func(a *actor) behaviour {
		return &hostedLeader{hosted: hosted{a: a, b: props.New()}, conn: conn, lostAt: -1}
	}}
}

// belief is what the incarnation believes: whether it leads, on which lock node.
func (x *hostedLeader) belief() *v1.LeadershipChanged {
	return x.b.(interface{ Belief() *v1.LeadershipChanged }).Belief()
}

// worker is the model the leader runs, nil when none.
func (x *hostedLeader) worker() *actor {
	for _, c := range x.a.children {
		if c.kind == kindModel {
			return c
		}
	}
	return nil
}
