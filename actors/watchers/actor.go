package watchers

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Config is what the watchers actor needs.
type Config struct {
	Conn    zk.Conn        // required: the leader's session
	Backoff backoff.Policy // between attempts to set a failed or lost watch; zero: backoff.Default()
}

// Props returns the props of a watchers actor, a child of the model: send it v1.WatchSet, it sends its
// parent v1.Changed. Each call gives a new actor its own memory of the last WatchSet, which survives restarts
// of that actor (see the package doc). A crash restarts it at once, then with the default backoff.
func Props(cfg Config) host.Props {
	if cfg.Backoff == (backoff.Policy{}) {
		// A zero policy would retry at once, in a loop, on a session that is gone.
		cfg.Backoff = backoff.Default()
	}
	mem := &memory{}
	return host.Props{
		Name: "watchers", Supervisor: host.DefaultSupervisor(),
		New: func() host.Behaviour { return newBehaviour(cfg, mem) },
	}
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

// behaviour carries out the machine's effects on the host.
type behaviour struct {
	cfg    Config
	mem    *memory
	m      *Machine
	timers map[uint64]host.Timer // retry timers by generation
}

func newBehaviour(cfg Config, mem *memory) *behaviour {
	_, gen := mem.load()
	return &behaviour{
		cfg: cfg, mem: mem, timers: map[uint64]host.Timer{},
		m: NewMachine(MachineConfig{Backoff: cfg.Backoff, FirstGeneration: gen}),
	}
}

func (b *behaviour) Started(ctx host.Context) {
	if set, _ := b.mem.load(); set != nil {
		b.apply(ctx, b.m.Handle(protocol.Input[*v1.WatchersInput](set))) // a restart: arm the last set again
	}
}

func (b *behaviour) Release(_ host.Context, _ bool) {
	b.mem.saveGen(b.m.Generation())
	for gen, t := range b.timers {
		t.Stop()
		delete(b.timers, gen)
	}
}

func (b *behaviour) Receive(ctx host.Context, msg proto.Message) {
	switch msg := msg.(type) {
	case *v1.InjectCrash:
		panic(fmt.Sprintf("watchers: injected crash: %s", msg.GetReason()))
	case *v1.WatchSet:
		b.mem.saveSet(msg)
	case *v1.TimerFired:
		delete(b.timers, msg.GetEpoch())
	}
	b.apply(ctx, b.m.Handle(protocol.Input[*v1.WatchersInput](msg)))
}

func (b *behaviour) apply(ctx host.Context, effects []Effect) {
	for _, e := range effects {
		b.do(ctx, e)
	}
}

func (b *behaviour) do(ctx host.Context, e Effect) {
	conn := b.cfg.Conn
	switch e := e.(type) {
	case Arm:
		ctx.Go("arm", func(t host.Task) { watch(t, conn, e) }) // ends when its watch fires or the connection closes
	case Notify:
		ctx.Logger().Debug("watch target changed", "kind", protocol.Name(e.Kind), "path", e.Path, "change", protocol.Name(e.Change), "event", protocol.Name(e.Event))
		ctx.Send(ctx.Parent(), e.Message())
	case StartTimer:
		if t, ok := b.timers[e.Generation]; ok {
			t.Stop()
		}
		b.timers[e.Generation] = ctx.After(e.After, &v1.TimerFired{Timer: e.Name, Epoch: e.Generation})
	case Log:
		ctx.Logger().Log(context.Background(), e.Level, e.Msg, e.Args...)
	}
}
