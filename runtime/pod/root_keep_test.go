package pod

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/protohost"
	"github.com/ochopod/ochopod/testkit/vclock"
)

// keepRecorder is a control.Keeper that records each set it is given.
type keepRecorder struct{ sets chan []string }

func (k keepRecorder) Keep(urls []string) { k.sets <- slices.Clone(urls) }

// baseLifecycle stands for the lifecycle: it answers each GetBase with the next base of bases (the last one
// over and over), says so on served once the answer is sent, and ignores the rest.
type baseLifecycle struct {
	bases  []*v1.Base
	served chan struct{}
}

func (*baseLifecycle) Started(host.Context)       {}
func (*baseLifecycle) Release(host.Context, bool) {}
func (l *baseLifecycle) Receive(ctx host.Context, msg proto.Message) {
	if _, ok := msg.(*v1.GetBase); ok {
		ctx.Respond(l.bases[0])
		if len(l.bases) > 1 {
			l.bases = l.bases[1:]
		}
		l.served <- struct{}{}
	}
}

// idleActor stands for the session: it does nothing.
type idleActor struct{}

func (idleActor) Started(host.Context)                {}
func (idleActor) Release(host.Context, bool)          {}
func (idleActor) Receive(host.Context, proto.Message) {}

// DESIGN §12 "kept connections": a pod in line finds the pods to keep in its ok's base keepAfterOK later, on
// the clock, off the phase (the next in line used to parse the payloads while the phase still waited for the
// other oks); several oks in that time give the newest base once; a pod that left the line first keeps none.
func TestRoot_FindsThePodsToKeepAfterThePhase(t *testing.T) {
	other := `{"ip":"10.0.1.2","port":"8080","ports":{"8080":8080},"seq":2,"scheme":"https"}`
	moved := `{"ip":"10.0.1.2","port":"8080","ports":{"8080":9090},"seq":2,"scheme":"https"}`
	base := func(payload string) *v1.Base { return &v1.Base{Pods: map[string][]byte{"other": []byte(payload)}} }
	lc := &baseLifecycle{bases: []*v1.Base{base(other), base(other), base(moved)}, served: make(chan struct{}, 8)}
	clk := vclock.New()
	keeper := keepRecorder{sets: make(chan []string, 8)}
	sys := actor.NewActorSystemWithConfig(actor.Configure(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) })))
	defer sys.Shutdown()
	pid, err := protohost.Spawn(sys.Root, rootName, RootProps(RootConfig{Key: "own", Keeper: keeper,
		Session:   host.Props{Name: "session", New: func() host.Behaviour { return idleActor{} }},
		Lifecycle: host.Props{Name: "lifecycle", New: func() host.Behaviour { return lc }}}), protohost.Env{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ok := &v1.ControlRequest{Task: v1.Task_TASK_OK}
	// The root's Base comes before a timer that fires after the lifecycle answered: one mailbox, in order.
	answered := func() {
		t.Helper()
		select {
		case <-lc.served:
		case <-time.After(10 * time.Second):
			t.Fatal("the ok asked the lifecycle for no base")
		}
	}
	timerSet := func() {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for clk.Pending() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no timer after the ok's base")
			}
			time.Sleep(time.Millisecond)
		}
	}
	kept := func(when string, want []string) {
		t.Helper()
		select {
		case set := <-keeper.sets:
			if !slices.Equal(set, want) || (set == nil) != (want == nil) {
				t.Fatalf("%s: kept %q, want %q", when, set, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no Keep", when)
		}
	}
	nothingKept := func(when string) {
		t.Helper()
		select {
		case set := <-keeper.sets:
			t.Fatalf("%s: kept %q", when, set)
		case <-time.After(50 * time.Millisecond): // real time for the actors to act, if they were to
		}
	}

	sys.Root.Send(pid, &v1.InLine{Next: true})
	sys.Root.Send(pid, ok)
	answered()
	timerSet()
	nothingKept("at the ok")
	clk.Advance(keepAfterOK - time.Millisecond)
	nothingKept("before keepAfterOK")
	clk.Advance(time.Millisecond)
	kept("keepAfterOK after the ok", []string{"https://10.0.1.2:8080"})

	// Two oks before the timer: one Keep, of the newest base (the lifecycle's, read at each ok).
	sys.Root.Send(pid, ok)
	answered()
	timerSet()
	sys.Root.Send(pid, ok)
	answered()
	clk.Advance(keepAfterOK)
	kept("after two oks (the newest base's)", []string{"https://10.0.1.2:9090"})
	nothingKept("after the one Keep of two oks")

	// Out of line before the timer: the kept pods are let go at once, and the base is not kept later.
	sys.Root.Send(pid, ok)
	answered()
	timerSet()
	sys.Root.Send(pid, &v1.InLine{})
	kept("out of line", nil)
	clk.Advance(keepAfterOK)
	nothingKept("out of line, after keepAfterOK")
}
