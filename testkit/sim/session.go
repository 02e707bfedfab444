package sim

import (
	"fmt"
	"time"

	"github.com/ochopod/ochopod/actors/protocol"
	"github.com/ochopod/ochopod/actors/session"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/zk"
)

// sessionAdapter does what actors/session/actor.go does, against the sim.
type sessionAdapter struct {
	a       *actor
	s       *Sim
	m       *session.Machine
	conn    zk.Conn
	epoch   uint64 // epoch of conn
	timers  map[v1.Timer]clock.Timer
	leader  *actor
	closing []zk.Conn // clients closed off the actor; release makes sure they are
}

func newSessionAdapter(a *actor) behaviour {
	s := a.s
	timeout := s.topo.sessionTimeout
	// session.Config.machineConfig: connect timeout = session timeout (at least 2 s), suspend after a third.
	cfg := session.MachineConfig{
		Cluster: a.pod.cl.zc.Qualified, ConnectTimeout: max(timeout, 2*time.Second),
		SuspendAfter: timeout / 3, Backoff: s.topo.backoff,
		FirstEpoch: firstGeneration(a), // Props: each instance's epochs start past the previous instance's
	}
	return &sessionAdapter{a: a, s: s, m: session.NewMachine(cfg), timers: map[v1.Timer]clock.Timer{}}
}

func (x *sessionAdapter) start() { x.apply(x.m.Start()) }

func (x *sessionAdapter) release() {
	for _, name := range sortedKeys(x.timers) {
		x.timers[name].Stop()
	}
	x.timers = map[v1.Timer]clock.Timer{}
	if x.conn != nil {
		x.conn.Close()
		x.conn = nil
	}
	for _, c := range x.closing {
		c.Close() // idempotent: the ones already closed stay so
	}
	x.closing = nil
}

func (x *sessionAdapter) receive(env envelope) int {
	switch msg := env.msg.(type) {
	case *v1.LeadershipChanged:
		if env.from != 0 && x.leader != nil && env.from != x.leader.pid {
			return 0 // from a leader child we already stopped
		}
		return x.apply(x.m.Handle(protocol.Input[*v1.SessionInput](msg)))
	case *v1.StopSession, *v1.Identity, *v1.SessionStateChanged, *v1.RegisterDone, *v1.DeregisterDone,
		*v1.TimerFired, *v1.ResetSession:
		return x.apply(x.m.Handle(protocol.Input[*v1.SessionInput](msg)))
	}
	return 0
}

func (x *sessionAdapter) apply(effects []session.Effect) int {
	for _, e := range effects {
		x.do(e)
	}
	x.s.checkSeq(x.a.pod, x.m)
	return countEffects(effects, func(e session.Effect) bool {
		switch e.(type) {
		case session.Log, session.Publish:
			return true
		}
		return false
	})
}

func (x *sessionAdapter) do(e session.Effect) {
	s, p := x.s, x.a.pod
	switch e := e.(type) {
	case session.AskIdentity:
		p.identity(x.a)
	case session.ReportSeq:
		p.seqAssigned(e.Key, e.Seq)
	case session.Dial:
		x.dial(e.Epoch)
	case session.Close:
		x.closeConn(e.Epoch)
	case session.Register:
		if x.conn == nil || x.epoch != e.Epoch {
			return
		}
		conn, cl, base := x.conn, p.cl.zc, p.base
		s.goIO(x.a, "register", func(t *task) {
			path, seq, err := session.RegisterPod(conn, cl, e.Key, e.Seq, e.HasSeq, base, noLog())
			t.tell(&v1.RegisterDone{Epoch: e.Epoch, Path: path, Seq: seq, HasSeq: path != "", Failure: protocol.Failure(err)})
		})
	case session.Deregister:
		conn := x.conn
		x.conn = nil
		s.goIO(x.a, "deregister", func(t *task) {
			if conn != nil {
				if e.Path != "" {
					_ = conn.Delete(e.Path, zk.AnyVersion)
				}
				conn.Close()
			}
			t.tell(&v1.DeregisterDone{Epoch: e.Epoch})
		})
	case session.StartTimer:
		if t, ok := x.timers[e.Name]; ok {
			t.Stop()
		}
		if s.opts.NoStepDown && e.Name == v1.Timer_TIMER_SUSPEND {
			return // the broken variant: a leader that never steps down while cut off
		}
		x.timers[e.Name] = x.a.timer(e.After, &v1.TimerFired{Timer: e.Name, Epoch: e.Epoch})
	case session.StartLeader:
		if x.conn == nil || x.epoch != e.Epoch {
			return
		}
		x.leader = s.spawnLeader(x.a, x.conn)
	case session.StopLeader:
		if x.leader != nil {
			s.stop(x.leader)
			x.leader = nil
		}
	case session.Stopped:
		s.on(p.fromSes, p.stopped) // SessionStopped to whoever asked: the pod's shutdown
	case session.Log:
		s.trace(x.a.who, "log", nil, e.Msg)
	}
}

// closeConn closes the client of epoch off the actor (`go conn.Close()`): next, before any call still to
// come on it. release closes at once whatever is still waiting (the adapter waits for its closes).
func (x *sessionAdapter) closeConn(epoch uint64) {
	if x.conn == nil || x.epoch != epoch {
		return
	}
	conn := x.conn
	x.conn = nil
	x.closing = append(x.closing, conn)
	x.s.at(0, conn.Close)
}

// dial opens a client and relays its session events, as the adapter's dial and its goroutine do.
func (x *sessionAdapter) dial(epoch uint64) {
	s, p := x.s, x.a.pod
	conn, events, err := s.srv.Dial(zk.Ensemble{Servers: []string{"zkmem:2181"}}, s.topo.sessionTimeout)
	if err != nil {
		x.a.completion(nil, &v1.SessionStateChanged{Epoch: epoch, State: v1.ZkState_ZK_STATE_FAILED, Failure: protocol.Failure(err)})
		return
	}
	if x.conn != nil {
		x.closeConn(x.epoch) // never drop a client unclosed
	}
	x.conn, x.epoch = conn, epoch
	p.conns = append(p.conns, conn)
	s.trace(x.a.who, "dial", nil, fmt.Sprintf("epoch %d session %d", epoch, conn.SessionID()))
	s.relays = append(s.relays, &relay{events: events, to: x.a, inc: x.a.inc, epoch: epoch, ch: &channel{}})
	s.dirty = true
}

// checkSeq is invariant (b) on the pod's side: once the pod holds a seq, its session reports no other.
func (s *Sim) checkSeq(p *pod, m *session.Machine) {
	if !p.hasSeq {
		return
	}
	if st := m.Status(); st.GetRegistered() && st.GetSeq() != p.seq {
		s.seqFail(p.key, []int64{st.GetSeq()}, "(b) pod %s holds seq %d but its session registered with seq %d", p.key, p.seq, st.GetSeq())
	}
}
