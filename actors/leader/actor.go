package leader

import (
	"context"
	"fmt"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/zk"
)

// WorkerProps builds what the leader runs while it holds the lock: the cluster model. lockPath is the fencing
// token for every write the worker makes (zk.Fenced).
type WorkerProps func(conn zk.Conn, lockPath string) host.Props

// Config is what the leader actor needs.
type Config struct {
	Conn    zk.Conn
	Cluster zk.Cluster
	Key     string // the pod's key: its contender is named after it and holds it (FindOrCreateContender)
	Backoff backoff.Policy
	Worker  WorkerProps // nil: nothing runs under the lock
	// Custom is the program's leader-scope actors (actors/custom, DESIGN §4), spawned before the worker when
	// the lock is won (they hear everything it publishes) and stopped with it; nil: none.
	Custom WorkerProps
	// Pod is the pod's root, told InLine when our place in the lock's line changes (DESIGN §12 "kept
	// connections"); nil: nobody.
	Pod host.Ref
	// Supervisor restarts the leader after a crash; zero: host.DefaultSupervisor(). The worker states its own
	// (a crashed model restarts; the lock stays).
	Supervisor host.Supervisor
}

// Props returns the props of a leader actor. It reports LeadershipChanged to its parent, with Request so the
// parent can tell a leader it already stopped from the current one.
func Props(cfg Config) host.Props {
	if cfg.Supervisor == (host.Supervisor{}) {
		cfg.Supervisor = host.DefaultSupervisor()
	}
	var instances atomic.Uint64 // each instance's generations start past the previous instance's
	return host.Props{Name: "leader", Supervisor: cfg.Supervisor, New: func() host.Behaviour {
		return newBehaviour(cfg, instances.Add(1)<<32)
	}}
}

// behaviour carries out the machine's effects on the host.
type behaviour struct {
	cfg    Config
	m      *Machine
	timer  host.Timer
	worker host.Ref
	custom host.Ref
}

func newBehaviour(cfg Config, firstGen uint64) *behaviour {
	return &behaviour{cfg: cfg, m: NewMachine(MachineConfig{Coordinator: cfg.Cluster.Coordinator(), Backoff: cfg.Backoff, FirstGeneration: firstGen})}
}

// Belief is what this incarnation believes: whether it leads, and on which lock node.
// The simulation checks it against ZooKeeper (invariants c and d).
func (b *behaviour) Belief() *v1.LeadershipChanged {
	return &v1.LeadershipChanged{Leader: b.m.Leading(), LockPath: b.m.LockPath()}
}

// Leading is Belief().Leader without building the message: the simulation asks after every event.
func (b *behaviour) Leading() bool { return b.m.Leading() }

func (b *behaviour) Started(ctx host.Context) { b.apply(ctx, b.m.Start()) }

func (b *behaviour) Release(ctx host.Context, restarting bool) {
	// Stopped, the parent forgot our role: our node goes with the session, or stays for a new leader of this
	// session to reuse. Restarting, the new incarnation may not win the lock again: until it says so, we do
	// not lead.
	if restarting && b.m.Leading() {
		ctx.Request(ctx.Parent(), &v1.LeadershipChanged{Leader: false, LockPath: b.m.LockPath()})
	}
	if b.m.InLine() != (Position{}) { // stopped or restarting, we hold no place the root may count on
		b.do(ctx, Position{})
	}
	if b.timer != nil {
		b.timer.Stop()
	}
}

func (b *behaviour) Receive(ctx host.Context, msg proto.Message) {
	if c, ok := msg.(*v1.InjectCrash); ok {
		if c.GetTarget() != "" && c.GetTarget() != "leader" {
			ctx.Send(b.worker, c)
			return
		}
		panic(fmt.Sprintf("leader: injected crash: %s", c.GetReason()))
	}
	if nc, ok := msg.(*v1.NodeChanged); ok && nc.GetEvent() == v1.ZkEvent_ZK_EVENT_NODE_DELETED && !b.m.Leading() {
		// The start of a takeover, if the lock follows (DESIGN §13: runtime/metrics times it).
		ctx.Publish(&v1.PredecessorGone{Path: nc.GetPath()})
	}
	b.apply(ctx, b.m.Handle(protocol.Input[*v1.LeaderInput](msg)))
}

func (b *behaviour) apply(ctx host.Context, effects []Effect) {
	for _, e := range effects {
		b.do(ctx, e)
	}
}

func (b *behaviour) do(ctx host.Context, e Effect) {
	conn, log := b.cfg.Conn, ctx.Logger().With("cluster", b.cfg.Cluster.Qualified)
	switch e := e.(type) {
	case EnsureContender:
		dir, key := b.cfg.Cluster.Coordinator(), b.cfg.Key
		ctx.Go("contender", func(t host.Task) {
			p, err := FindOrCreateContender(conn, dir, key, log)
			t.Tell(&v1.ContenderReady{Generation: e.Generation, Path: p, Failure: protocol.Failure(err)})
		})
	case ListContenders:
		dir := b.cfg.Cluster.Coordinator()
		ctx.Go("list", func(t host.Task) {
			children, _, err := conn.Children(dir)
			t.Tell(&v1.ContendersListed{Generation: e.Generation, Children: children, Failure: protocol.Failure(err)})
		})
	case Watch:
		ctx.Go("watch", func(t host.Task) {
			ok, _, ch, err := conn.ExistsW(e.Path)
			t.Tell(&v1.NodeWatched{Generation: e.Generation, Path: e.Path, Exists: ok, Failure: protocol.Failure(err)})
			if err != nil {
				return
			}
			ev, open := host.Recv(t, ch) // one-shot; the client closes it when the session ends
			t.Tell(&v1.NodeChanged{Generation: e.Generation, Path: e.Path, Event: protocol.Event(ev, open)})
		})
	case StartWorker:
		if b.cfg.Custom != nil {
			b.custom = ctx.Spawn(b.cfg.Custom(conn, e.LockPath))
		}
		if b.cfg.Worker != nil {
			b.worker = ctx.Spawn(b.cfg.Worker(conn, e.LockPath))
		}
	case StopWorker:
		if b.worker != nil {
			ctx.Stop(b.worker)
			b.worker = nil
		}
		if b.custom != nil {
			ctx.Stop(b.custom)
			b.custom = nil
		}
	case Announce:
		// Request, not Send: the parent checks the sender to drop news from a leader it already stopped.
		ctx.Request(ctx.Parent(), &v1.LeadershipChanged{Leader: e.Leader, LockPath: e.LockPath, Generation: e.Generation})
	case Touch:
		key := b.cfg.Key
		ctx.Go("touch", func(host.Task) {
			if _, err := conn.Set(e.Path, []byte(key), zk.AnyVersion); err != nil { // its data as created
				log.Debug("cannot touch our lock node: the pod behind us does not learn it is next", "lock", e.Path, "err", err)
			}
		})
	case Position:
		if b.cfg.Pod != nil {
			ctx.Send(b.cfg.Pod, &v1.InLine{Leading: e.Leading, Next: e.Next})
		}
	case StartTimer:
		if b.timer != nil {
			b.timer.Stop()
		}
		b.timer = ctx.After(e.After, &v1.TimerFired{Timer: e.Name, Epoch: e.Generation})
	case Log:
		log.Log(context.Background(), e.Level, e.Msg, e.Args...)
	}
}
