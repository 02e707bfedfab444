package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/zk"
)

// LeaderProps builds the props of the leader child for one session: the client it must use and the epoch it
// runs under.
type LeaderProps func(conn zk.Conn, epoch uint64) host.Props

// Config is what the session actor needs.
type Config struct {
	Cluster        zk.Cluster
	Ensemble       zk.Ensemble
	SessionTimeout time.Duration
	// ConnectTimeout bounds a dial without a session; 0 means the session timeout (at least 2 s).
	ConnectTimeout time.Duration
	Backoff        backoff.Policy
	Payload        payload.Payload // registration payload, without seq
	Dialer         zk.Dialer
	Leader         LeaderProps // nil: no leader child (the pod only registers)
	// Supervisor restarts the session after a crash; zero: host.DefaultSupervisor(). The leader states its own.
	Supervisor host.Supervisor
}

func (c Config) machineConfig() MachineConfig {
	ct := c.ConnectTimeout
	if ct <= 0 {
		ct = max(c.SessionTimeout, 2*time.Second)
	}
	return MachineConfig{Cluster: c.Cluster.Qualified, ConnectTimeout: ct, SuspendAfter: c.SessionTimeout / 3, Backoff: c.Backoff}
}

// Props returns the props of a session actor. Its parent must answer IdentityRequest with Identity and may
// listen for SeqAssigned; SessionStatus is published on every change.
func Props(cfg Config) host.Props {
	if cfg.Supervisor == (host.Supervisor{}) {
		cfg.Supervisor = host.DefaultSupervisor()
	}
	var instances atomic.Uint64 // each instance's epochs start past the previous instance's
	return host.Props{Name: "session", Supervisor: cfg.Supervisor, New: func() host.Behaviour {
		return newBehaviour(cfg, instances.Add(1)<<32)
	}}
}

// behaviour carries out the machine's effects on the host. ZooKeeper calls run as tasks that report back with
// the epoch they were issued under; the task relaying a client's events ends when the client closes.
type behaviour struct {
	cfg     Config
	m       *Machine
	conn    zk.Conn
	epoch   uint64 // epoch of conn
	timers  map[v1.Timer]host.Timer
	leader  host.Ref
	waiters []host.Ref     // asked us to stop
	closing sync.WaitGroup // clients being closed off the actor; Release waits for them
}

func newBehaviour(cfg Config, firstEpoch uint64) *behaviour {
	mc := cfg.machineConfig()
	mc.FirstEpoch = firstEpoch
	return &behaviour{cfg: cfg, m: NewMachine(mc), timers: map[v1.Timer]host.Timer{}}
}

// Status is the machine's view (the simulation checks the seq against it, invariant b).
func (b *behaviour) Status() *v1.SessionStatus { return b.m.Status() }

// Conn is the client of the current epoch, nil between clients (the simulation's faults strike it).
func (b *behaviour) Conn() zk.Conn { return b.conn }

func (b *behaviour) log(ctx host.Context) *slog.Logger {
	return ctx.Logger().With("cluster", b.cfg.Cluster.Qualified, "zk", b.cfg.Ensemble.String())
}

func (b *behaviour) Started(ctx host.Context) { b.apply(ctx, b.m.Start()) }

func (b *behaviour) Receive(ctx host.Context, msg proto.Message) {
	switch msg := msg.(type) {
	case *v1.InjectCrash:
		if msg.GetTarget() != "" && msg.GetTarget() != "session" {
			ctx.Send(b.leader, msg)
			return
		}
		panic(fmt.Sprintf("session: injected crash: %s", msg.GetReason()))
	case *v1.GetSessionStatus:
		ctx.Respond(b.m.Status())
		return
	case *v1.StopSession:
		if w := ctx.Sender(); w != nil {
			b.waiters = append(b.waiters, w)
		}
	case *v1.LeadershipChanged:
		if from := ctx.Sender(); from != nil && b.leader != nil && from != b.leader {
			return // from a leader child we already stopped
		}
	}
	b.apply(ctx, b.m.Handle(protocol.Input[*v1.SessionInput](msg)))
}

func (b *behaviour) apply(ctx host.Context, effects []Effect) {
	for _, e := range effects {
		b.do(ctx, e)
	}
}

func (b *behaviour) do(ctx host.Context, e Effect) {
	switch e := e.(type) {
	case AskIdentity:
		if ctx.Parent() == nil {
			b.log(ctx).Error("session has no parent to ask for its identity")
			return
		}
		ctx.Request(ctx.Parent(), &v1.IdentityRequest{})
	case ReportSeq:
		ctx.Send(ctx.Parent(), &v1.SeqAssigned{Key: e.Key, Seq: e.Seq})
	case Dial:
		b.dial(ctx, e.Epoch)
	case Close:
		b.closeConn(ctx, e.Epoch)
	case Register:
		b.register(ctx, e)
	case Deregister:
		b.deregister(ctx, e)
	case StartTimer:
		if t, ok := b.timers[e.Name]; ok {
			t.Stop()
		}
		b.timers[e.Name] = ctx.After(e.After, &v1.TimerFired{Timer: e.Name, Epoch: e.Epoch})
	case StartLeader:
		if b.cfg.Leader == nil || b.conn == nil || b.epoch != e.Epoch {
			return
		}
		b.leader = ctx.Spawn(b.cfg.Leader(b.conn, e.Epoch))
	case StopLeader:
		if b.leader != nil {
			ctx.Stop(b.leader)
			b.leader = nil
		}
	case Publish:
		ctx.Publish(e.Status)
	case Stopped:
		for _, w := range b.waiters {
			ctx.Send(w, &v1.SessionStopped{})
		}
		b.waiters = nil
	case Log:
		b.log(ctx).Log(context.Background(), e.Level, e.Msg, e.Args...)
	}
}

func (b *behaviour) dial(ctx host.Context, epoch uint64) {
	conn, events, err := b.cfg.Dialer.Dial(b.cfg.Ensemble, b.cfg.SessionTimeout)
	if err != nil {
		// Delivered like a completion: after what is already on its way to us.
		ctx.Go("dial failed", func(t host.Task) {
			t.Tell(&v1.SessionStateChanged{Epoch: epoch, State: v1.ZkState_ZK_STATE_FAILED, Failure: protocol.Failure(err)})
		})
		return
	}
	if b.conn != nil {
		b.closeConn(ctx, b.epoch) // never drop a client unclosed: its tasks and session would leak
	}
	b.conn, b.epoch = conn, epoch
	b.log(ctx).Debug("dialing ZooKeeper", "ensemble", b.cfg.Ensemble.String(), "epoch", epoch)
	ctx.Go("relay", func(t host.Task) { // ends when the client closes its event channel
		for {
			ev, open := host.Recv(t, events)
			if !open {
				return
			}
			t.Tell(&v1.SessionStateChanged{Epoch: epoch, State: protocol.State(ev.State), SessionId: ev.SessionID, Server: ev.Server, Failure: dialFailure(ev.Err)})
		}
	})
}

func (b *behaviour) closeConn(ctx host.Context, epoch uint64) {
	if b.conn == nil || b.epoch != epoch {
		return
	}
	conn := b.conn
	b.conn = nil
	b.closing.Add(1)
	ctx.Go("close", func(host.Task) { // Close may wait on the server; the actor does not
		defer b.closing.Done()
		conn.Close()
	})
}

func (b *behaviour) register(ctx host.Context, e Register) {
	if b.conn == nil || b.epoch != e.Epoch {
		return
	}
	conn, log := b.conn, b.log(ctx)
	cluster, base := b.cfg.Cluster, b.cfg.Payload
	ctx.Go("register", func(t host.Task) {
		path, seq, err := RegisterPod(conn, cluster, e.Key, e.Seq, e.HasSeq, base, log)
		t.Tell(&v1.RegisterDone{Epoch: e.Epoch, Path: path, Seq: seq, HasSeq: path != "", Failure: protocol.Failure(err)})
	})
}

func (b *behaviour) deregister(ctx host.Context, e Deregister) {
	conn, log := b.conn, b.log(ctx)
	b.conn = nil
	ctx.Go("deregister", func(t host.Task) {
		if conn != nil {
			if e.Path != "" {
				if err := conn.Delete(e.Path, zk.AnyVersion); err != nil && !errors.Is(err, zk.ErrNoNode) {
					log.Warn("could not delete the pod's node; closing the session removes it", "path", e.Path, "err", err)
				}
			}
			conn.Close()
		}
		t.Tell(&v1.DeregisterDone{Epoch: e.Epoch})
	})
}

// Release frees what the incarnation owns when it stops or restarts: timers and the client (closing it ends
// the session, so a restarted session registers anew with the same identity).
func (b *behaviour) Release(host.Context, bool) {
	for name, t := range b.timers {
		t.Stop()
		delete(b.timers, name)
	}
	if b.conn != nil {
		b.conn.Close()
		b.conn = nil
	}
	b.closing.Wait() // every client this incarnation opened is closed when it is gone
}

// dialFailure is the cause a client gave for a server it could not reach (zk.SessionEvent.Err), nil for none.
func dialFailure(cause string) *v1.Failure {
	if cause == "" {
		return nil
	}
	return &v1.Failure{Kind: v1.ErrorKind_ERROR_KIND_OTHER, Message: cause}
}
