package sim

import (
	"time"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/leader"
	"github.com/ochopod/ochopod/actors/model"
	"github.com/ochopod/ochopod/actors/watchers"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/supervise"
	"github.com/ochopod/ochopod/runtime/zk"
)

// phaseGrace is the models' grace (DESIGN §7): each control request waits 1.25 × that for its reply.
const phaseGrace = 60 * time.Second

// hostedLeader is one incarnation of the shipped leader behaviour (actors/leader), with what the invariants
// note about it.
type hostedLeader struct {
	hosted
	conn   zk.Conn
	lostAt time.Duration               // when the sim saw the lock node it believes it holds gone; -1: it is there
	lead   interface{ Leading() bool } // the behaviour, asked after every event (leading)
}

// withConn is a shipped behaviour and the client it was given, for the invariants.
type withConn struct {
	host.Behaviour
	conn zk.Conn
}

// leaderProps is the leader child of a session on its client, as runtime/pod wires it: the shipped leader,
// which runs the shipped model (actors/model, its phases and watchers) under the lock.
func (s *Sim) leaderProps(p *pod, conn zk.Conn) host.Props {
	c := p.cl
	var root host.Ref // told the pod's place in the lock's line, as runtime/pod wires it
	if p.root != nil {
		root = p.root
	}
	props := leader.Props(leader.Config{
		Conn: conn, Cluster: c.zc, Key: p.key, Backoff: s.topo.backoff, Supervisor: supervise.DefaultPolicy(),
		Custom: s.wiring(p, p.root).Leader(), Pod: root,
		Worker: func(conn zk.Conn, lock string) host.Props {
			if s.opts.SkipFence {
				conn = unfencedConn{conn}
			}
			return model.Props(model.Config{
				Conn: conn, LockPath: lock, Key: p.key, Machine: s.machineConfig(c),
				Grace: phaseGrace, Sequential: c.sequential, FullShutdown: c.fullShutdown,
				Caller: s.caller(), Clock: s.clk, Supervisor: supervise.DefaultPolicy(), Instances: &p.models,
				Watchers: func(conn zk.Conn) host.Props {
					return watchers.Props(watchers.Config{Conn: conn, Backoff: s.topo.backoff})
				},
			})
		},
	})
	newLeader := props.New
	props.New = func() host.Behaviour { return withConn{Behaviour: newLeader(), conn: conn} }
	return props
}

// belief is what the incarnation believes: whether it leads, on which lock node.
func (x *hostedLeader) belief() *v1.LeadershipChanged {
	return x.b.(withConn).Behaviour.(interface{ Belief() *v1.LeadershipChanged }).Belief()
}

// leading is belief().GetLeader(), cheaper: invariant (c) asks after every event.
func (x *hostedLeader) leading() bool { return x.lead.Leading() }

// worker is the model the leader runs, nil when none.
func (x *hostedLeader) worker() *actor {
	for _, c := range x.a.children {
		if c.kind == kindModel {
			return c
		}
	}
	return nil
}

// modelStatus is the machine's view of the model a actor runs; nil if a is not one.
func modelStatus(a *actor) *v1.ModelStatus {
	h, ok := a.impl.(*hosted)
	if !ok {
		return nil
	}
	m, ok := h.b.(interface{ Status() *v1.ModelStatus })
	if !ok {
		return nil
	}
	return m.Status()
}

// unfencedConn is SkipFence's broken variant: a client whose multis drop the fencing check (zk.Fenced's
// check of the lock node), so a deposed leader's fenced writes land.
type unfencedConn struct{ zk.Conn }

func (c unfencedConn) Multi(ops ...zk.Op) ([]zk.OpResult, error) {
	if len(ops) > 0 {
		if _, ok := ops[0].(zk.CheckOp); ok {
			res, err := c.Conn.Multi(ops[1:]...)
			return append([]zk.OpResult{{}}, res...), err
		}
	}
	return c.Conn.Multi(ops...)
}
