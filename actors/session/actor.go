package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/zk"
)

// LeaderProps builds the props of the leader child for one session: the client it must use and the epoch it
// runs under.
type LeaderProps func(conn zk.Conn, epoch uint64) *actor.Props

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
	Clock          clock.Clock
	Logger         *slog.Logger
	Leader         LeaderProps // nil: no leader child (the pod only registers)
	// Supervisor handles the leader child's failures; nil uses protoactor's default.
	Supervisor actor.SupervisorStrategy
}

func (c Config) machineConfig() MachineConfig {
	ct := c.ConnectTimeout
	if ct <= 0 {
		ct = max(c.SessionTimeout, 2*time.Second)
	}
	return MachineConfig{Cluster: c.Cluster.Qualified, ConnectTimeout: ct, SuspendAfter: c.SessionTimeout / 3, Backoff: c.Backoff}
}

// Props returns the props of a session actor. Its parent must answer IdentityRequest with Identity and may
// listen for SeqAssigned; SessionStatus is published on the actor system's event stream on every change.
func Props(cfg Config) *actor.Props {
	opts := []actor.PropsOption{}
	if cfg.Supervisor != nil {
		opts = append(opts, actor.WithSupervisor(cfg.Supervisor))
	}
	var instances atomic.Uint64 // each instance's epochs start past the previous instance's
	return actor.PropsFromProducer(func() actor.Actor { return newAdapter(cfg, instances.Add(1)<<32) }, opts...)
}

// adapter carries out the machine's effects. ZooKeeper calls run on goroutines that report back to the
// actor's mailbox with the epoch they were issued under; each such goroutine ends when its client closes.
type adapter struct {
	cfg     Config
	log     *slog.Logger
	m       *Machine
	conn    zk.Conn
	epoch   uint64 // epoch of conn
	timers  map[v1.Timer]clock.Timer
	leader  *actor.PID
	waiters []*actor.PID   // asked us to stop
	closing sync.WaitGroup // clients being closed off the actor; release waits for them
}

func newAdapter(cfg Config, firstEpoch uint64) *adapter {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("actor", "session", "cluster", cfg.Cluster.Qualified, "zk", cfg.Ensemble.String())
	mc := cfg.machineConfig()
	mc.FirstEpoch = firstEpoch
	return &adapter{cfg: cfg, log: log, m: NewMachine(mc), timers: map[v1.Timer]clock.Timer{}}
}

// Receive is the protoactor entry point.
func (a *adapter) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.apply(ctx, a.m.Start())
	case *actor.Stopping, *actor.Restarting:
		a.release()
	case *v1.InjectCrash:
		if msg.GetTarget() != "" && msg.GetTarget() != "session" {
			if a.leader != nil {
				ctx.Forward(a.leader)
			}
			return
		}
		panic(fmt.Sprintf("session: injected crash: %s", msg.GetReason()))
	case *v1.GetSessionStatus:
		ctx.Respond(a.m.Status())
	case *v1.StopSession:
		if ctx.Sender() != nil {
			a.waiters = append(a.waiters, ctx.Sender())
		}
		a.apply(ctx, a.m.Handle(protocol.Input[*v1.SessionInput](msg)))
	case *v1.LeadershipChanged:
		if ctx.Sender() != nil && a.leader != nil && !ctx.Sender().Equal(a.leader) {
			return // from a leader child we already stopped
		}
		a.apply(ctx, a.m.Handle(protocol.Input[*v1.SessionInput](msg)))
	case *v1.Identity, *v1.SessionStateChanged, *v1.RegisterDone, *v1.DeregisterDone, *v1.TimerFired,
		*v1.ResetSession:
		a.apply(ctx, a.m.Handle(protocol.Input[*v1.SessionInput](msg)))
	}
}

func (a *adapter) apply(ctx actor.Context, effects []Effect) {
	for _, e := range effects {
		a.do(ctx, e)
	}
}

func (a *adapter) do(ctx actor.Context, e Effect) {
	switch e := e.(type) {
	case AskIdentity:
		if ctx.Parent() == nil {
			a.log.Error("session has no parent to ask for its identity")
			return
		}
		ctx.Request(ctx.Parent(), &v1.IdentityRequest{})
	case ReportSeq:
		if ctx.Parent() != nil {
			ctx.Send(ctx.Parent(), &v1.SeqAssigned{Key: e.Key, Seq: e.Seq})
		}
	case Dial:
		a.dial(ctx, e.Epoch)
	case Close:
		a.closeConn(e.Epoch)
	case Register:
		a.register(ctx, e)
	case Deregister:
		a.deregister(ctx, e)
	case StartTimer:
		a.startTimer(ctx, e)
	case StartLeader:
		a.startLeader(ctx, e.Epoch)
	case StopLeader:
		if a.leader != nil {
			ctx.Stop(a.leader)
			a.leader = nil
		}
	case Publish:
		ctx.ActorSystem().EventStream.Publish(e.Status)
	case Stopped:
		for _, w := range a.waiters {
			ctx.Send(w, &v1.SessionStopped{})
		}
		a.waiters = nil
	case Log:
		a.log.Log(context.Background(), e.Level, e.Msg, e.Args...)
	}
}

// send returns a function that delivers a message to this actor from any goroutine.
func send(ctx actor.Context) func(any) {
	root, self := ctx.ActorSystem().Root, ctx.Self()
	return func(m any) { root.Send(self, m) }
}

func (a *adapter) dial(ctx actor.Context, epoch uint64) {
	tell := send(ctx)
	conn, events, err := a.cfg.Dialer.Dial(a.cfg.Ensemble, a.cfg.SessionTimeout)
	if err != nil {
		tell(&v1.SessionStateChanged{Epoch: epoch, State: v1.ZkState_ZK_STATE_FAILED, Failure: protocol.Failure(err)})
		return
	}
	if a.conn != nil {
		a.closeConn(a.epoch) // never drop a client unclosed: its goroutines and session would leak
	}
	a.conn, a.epoch = conn, epoch
	a.log.Debug("dialing ZooKeeper", "ensemble", a.cfg.Ensemble.String(), "epoch", epoch)
	go func() { // ends when the client closes its event channel
		for ev := range events {
			tell(&v1.SessionStateChanged{Epoch: epoch, State: protocol.State(ev.State), SessionId: ev.SessionID, Server: ev.Server, Failure: dialFailure(ev.Err)})
		}
	}()
}

func (a *adapter) closeConn(epoch uint64) {
	if a.conn == nil || a.epoch != epoch {
		return
	}
	conn := a.conn
	a.conn = nil
	a.closing.Add(1)
	go func() { // Close may wait on the server; the actor does not
		defer a.closing.Done()
		conn.Close()
	}()
}

func (a *adapter) register(ctx actor.Context, e Register) {
	if a.conn == nil || a.epoch != e.Epoch {
		return
	}
	tell, conn, log := send(ctx), a.conn, a.log
	cluster, base := a.cfg.Cluster, a.cfg.Payload
	go func() {
		path, seq, err := RegisterPod(conn, cluster, e.Key, e.Seq, e.HasSeq, base, log)
		done := &v1.RegisterDone{Epoch: e.Epoch, Path: path, Seq: seq, HasSeq: path != ""}
		if err != nil {
			done.Failure = protocol.Failure(err)
		}
		tell(done)
	}()
}

func (a *adapter) deregister(ctx actor.Context, e Deregister) {
	tell, conn, log := send(ctx), a.conn, a.log
	a.conn = nil
	go func() {
		if conn != nil {
			if e.Path != "" {
				if err := conn.Delete(e.Path, zk.AnyVersion); err != nil && !errors.Is(err, zk.ErrNoNode) {
					log.Warn("could not delete the pod's node; closing the session removes it", "path", e.Path, "err", err)
				}
			}
			conn.Close()
		}
		tell(&v1.DeregisterDone{Epoch: e.Epoch})
	}()
}

func (a *adapter) startTimer(ctx actor.Context, e StartTimer) {
	if t, ok := a.timers[e.Name]; ok {
		t.Stop()
	}
	tell := send(ctx)
	a.timers[e.Name] = a.cfg.Clock.AfterFunc(e.After, func() { tell(&v1.TimerFired{Timer: e.Name, Epoch: e.Epoch}) })
}

func (a *adapter) startLeader(ctx actor.Context, epoch uint64) {
	if a.cfg.Leader == nil || a.conn == nil || a.epoch != epoch {
		return
	}
	a.leader = ctx.Spawn(a.cfg.Leader(a.conn, epoch))
}

// release frees what the actor owns when it stops or restarts: timers and the client (closing it ends the
// session, so a restarted session registers anew with the same identity).
func (a *adapter) release() {
	for name, t := range a.timers {
		t.Stop()
		delete(a.timers, name)
	}
	if a.conn != nil {
		a.conn.Close()
		a.conn = nil
	}
	a.closing.Wait() // every client this actor opened is closed when it is gone
}

// dialFailure is the cause a client gave for a server it could not reach (zk.SessionEvent.Err), nil for none.
func dialFailure(cause string) *v1.Failure {
	if cause == "" {
		return nil
	}
	return &v1.Failure{Kind: v1.ErrorKind_ERROR_KIND_OTHER, Message: cause}
}
