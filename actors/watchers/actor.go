package watchers

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Config is what the watchers actor needs.
type Config struct {
	Conn    zk.Conn        // required: the leader's session
	Clock   clock.Clock    // retry timers; nil: the wall clock
	Logger  *slog.Logger   // nil: discard
	Backoff backoff.Policy // between attempts to set a failed or lost watch; zero: backoff.Default()
}

// Props returns the props of a watchers actor, a child of the model: send it v1.WatchSet, it sends its
// parent v1.Changed. Each call gives a new actor its own memory of the last WatchSet, which survives restarts
// of that actor (see the package doc).
func Props(cfg Config) *actor.Props {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Backoff == (backoff.Policy{}) {
		// A zero policy would retry at once, in a loop, on a session that is gone.
		cfg.Backoff = backoff.Default()
	}
	mem := &memory{}
	return actor.PropsFromProducer(func() actor.Actor { return newAdapter(cfg, mem) })
}

// memory is what one Props keeps across restarts of its actor: the last target set, and the last generation
// handed out so that the new machine's generations never match the old watches'.
type memory struct {
	mu  sync.Mutex
	set *v1.WatchSet // never mutated: messages are not changed after they are sent
	gen uint64
}

func (mm *memory) load() (*v1.WatchSet, uint64) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.set, mm.gen
}

func (mm *memory) saveSet(s *v1.WatchSet) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.set = s
}

func (mm *memory) saveGen(g uint64) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.gen = max(mm.gen, g)
}

type adapter struct {
	cfg    Config
	mem    *memory
	log    *slog.Logger
	m      *Machine
	timers map[uint64]clock.Timer // retry timers by generation
}

func newAdapter(cfg Config, mem *memory) *adapter {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	_, gen := mem.load()
	return &adapter{
		cfg: cfg, mem: mem, log: log.With("actor", "watchers"), timers: map[uint64]clock.Timer{},
		m: NewMachine(MachineConfig{Backoff: cfg.Backoff, FirstGeneration: gen}),
	}
}

// Receive is the protoactor entry point.
func (a *adapter) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		if set, _ := a.mem.load(); set != nil {
			a.apply(ctx, a.m.Handle(protocol.Input[*v1.WatchersInput](set))) // a restart: arm the last set again, every target reports "armed"
		}
	case *actor.Stopping, *actor.Restarting:
		a.mem.saveGen(a.m.Generation())
		for gen, t := range a.timers {
			t.Stop()
			delete(a.timers, gen)
		}
	case *v1.InjectCrash:
		panic(fmt.Sprintf("watchers: injected crash: %s", msg.GetReason()))
	case *v1.WatchSet:
		a.mem.saveSet(msg)
		a.apply(ctx, a.m.Handle(protocol.Input[*v1.WatchersInput](msg)))
	case *v1.TimerFired:
		delete(a.timers, msg.GetEpoch())
		a.apply(ctx, a.m.Handle(protocol.Input[*v1.WatchersInput](msg)))
	case *v1.NodeWatched, *v1.NodeChanged:
		a.apply(ctx, a.m.Handle(protocol.Input[*v1.WatchersInput](msg)))
	}
}

func (a *adapter) apply(ctx actor.Context, effects []Effect) {
	for _, e := range effects {
		a.do(ctx, e)
	}
}

func (a *adapter) do(ctx actor.Context, e Effect) {
	root, self, conn := ctx.ActorSystem().Root, ctx.Self(), a.cfg.Conn
	tell := func(m any) { root.Send(self, m) }
	switch e := e.(type) {
	case Arm:
		go watch(conn, e, tell) // ends when its watch fires or the connection closes (watch.go)
	case Notify:
		a.log.Debug("watch target changed", "kind", protocol.Name(e.Kind), "path", e.Path, "change", protocol.Name(e.Change), "event", protocol.Name(e.Event))
		if ctx.Parent() != nil {
			ctx.Send(ctx.Parent(), e.Message())
		}
	case StartTimer:
		if t, ok := a.timers[e.Generation]; ok {
			t.Stop()
		}
		a.timers[e.Generation] = a.cfg.Clock.AfterFunc(e.After, func() { tell(&v1.TimerFired{Timer: e.Name, Epoch: e.Generation}) })
	case Log:
		a.log.Log(context.Background(), e.Level, e.Msg, e.Args...)
	}
}
