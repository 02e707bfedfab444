package sim

import (
	"fmt"
	"time"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/session"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/supervise"
	"github.com/ochopod/ochopod/runtime/zk"
)

// hostedSession is one incarnation of the shipped session behaviour (actors/session).
type hostedSession struct{ hosted }

// sessionProps are the pod's session as runtime/pod wires it: the leader it starts is the shipped one too
// (leader.go). The root spawns it; spawnHosted watches it.
func (s *Sim) sessionProps(p *pod) host.Props {
	return session.Props(session.Config{
		Cluster: p.cl.zc, Ensemble: zk.Ensemble{Servers: []string{"zkmem:2181"}}, SessionTimeout: s.topo.sessionTimeout,
		Backoff: s.topo.backoff, Payload: p.base, Dialer: dialer{s: s, p: p}, Supervisor: supervise.DefaultPolicy(),
		Leader: func(conn zk.Conn, _ uint64) host.Props { return s.leaderProps(p, conn) },
	})
}

func (x *hostedSession) start() {
	x.hosted.start()
	x.a.s.checkSeq(x.a.pod, x.status())
}

func (x *hostedSession) receive(env envelope) int {
	n := x.hosted.receive(env)
	x.a.s.checkSeq(x.a.pod, x.status())
	return n
}

// status is the session machine's view.
func (x *hostedSession) status() *v1.SessionStatus {
	return x.b.(interface{ Status() *v1.SessionStatus }).Status()
}

// conn is the client of the session's current epoch, nil between clients.
func (x *hostedSession) conn() zk.Conn { return x.b.(interface{ Conn() zk.Conn }).Conn() }

// leader is the session's leader child, nil when none runs.
func (x *hostedSession) leader() *actor {
	for _, c := range x.a.children {
		if c.kind == kindLeader && c.alive {
			return c
		}
	}
	return nil
}

// dialer is the in-memory ZooKeeper as the pod's zk.Dialer: it keeps every client the pod dials (a process
// that exits takes them along) and traces the dial.
type dialer struct {
	s *Sim
	p *pod
}

func (d dialer) Dial(e zk.Ensemble, timeout time.Duration) (zk.Conn, <-chan zk.SessionEvent, error) {
	conn, events, err := d.s.srv.Dial(e, timeout)
	if err != nil {
		return nil, nil, err
	}
	d.p.conns = append(d.p.conns, conn)
	d.s.trace(d.p.cl.name+"/"+d.p.key, "dial", nil, fmt.Sprintf("session %d", conn.SessionID()))
	d.s.dirty = true // its first events are in the channel already
	d.s.sessionOf[conn.SessionID()] = d.p
	d.s.markReady(d.p)
	return conn, events, nil
}

// checkSeq is invariant (b) on the pod's side: once the pod holds a seq, its session reports no other.
func (s *Sim) checkSeq(p *pod, st *v1.SessionStatus) {
	if !p.hasSeq {
		return
	}
	if st.GetRegistered() && st.GetSeq() != p.seq {
		s.seqFail(p.key, []int64{st.GetSeq()}, "(b) pod %s holds seq %d but its session registered with seq %d", p.key, p.seq, st.GetSeq())
	}
}
