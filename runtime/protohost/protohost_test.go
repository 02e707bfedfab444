package protohost_test

import (
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/protohost"
	"github.com/ochopod/ochopod/testkit/vclock"
)

// wait bounds each wait; every wait ends as soon as what it waits for happens.
const wait = 10 * time.Second

// recorder is a behaviour that reports what happens to it on a channel, and does what the test sends it.
type recorder struct {
	name   string
	out    chan<- string
	events <-chan int // read by the task started on "go"
	child  host.Ref
	sup    host.Supervisor
}

func (r *recorder) Started(host.Context) { r.out <- r.name + " started" }

func (r *recorder) Release(_ host.Context, restarting bool) {
	r.out <- fmt.Sprintf("%s released restarting=%v", r.name, restarting)
}

func (r *recorder) Receive(ctx host.Context, msg proto.Message) {
	m, ok := msg.(*v1.ResetSession)
	if !ok {
		if st, ok := msg.(*v1.SessionStatus); ok {
			r.out <- r.name + " got " + st.GetKey()
		}
		return
	}
	switch m.GetCause() {
	case "crash":
		panic("asked to")
	case "spawn":
		out, sup := r.out, r.sup
		r.child = ctx.Spawn(host.Props{Name: "child", Supervisor: sup, New: func() host.Behaviour {
			return &recorder{name: "child", out: out}
		}})
	case "spawn listener": // a child that hears the SessionStatus published on the host
		out := r.out
		r.child = ctx.Spawn(host.Props{Name: "child", Supervisor: r.sup, New: func() host.Behaviour {
			return &recorder{name: "child", out: out}
		}, Events: func(m proto.Message) bool { _, ok := m.(*v1.SessionStatus); return ok }})
	case "stop child":
		ctx.Stop(r.child)
	case "crash child":
		ctx.Send(r.child, &v1.ResetSession{Cause: "crash"})
	case "ask child":
		ctx.Request(r.child, &v1.ResetSession{Cause: "answer"})
	case "answer":
		ctx.Respond(&v1.SessionStatus{Key: "answer from " + r.name})
	case "go":
		events := r.events
		ctx.Go("relay", func(t host.Task) {
			for {
				n, ok := host.Recv(t, events)
				if !ok {
					t.Tell(&v1.SessionStatus{Key: "closed"})
					return
				}
				t.Tell(&v1.SessionStatus{Key: fmt.Sprint(n)})
			}
		})
	case "after":
		ctx.After(time.Second, &v1.SessionStatus{Key: "timer"})
	}
}

// armed is a virtual clock that says when a timer is set, so tests advance it only then.
type armed struct {
	*vclock.Clock
	set chan time.Duration
}

func newArmed() *armed { return &armed{Clock: vclock.New(), set: make(chan time.Duration, 64)} }

func (c *armed) AfterFunc(d time.Duration, f func()) clock.Timer {
	t := c.Clock.AfterFunc(d, f)
	c.set <- d
	return t
}

// advanceAfterTimer waits for a timer of d to be set, then moves the clock by d.
func (c *armed) advanceAfterTimer(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case got := <-c.set:
		if got != d {
			t.Fatalf("timer of %s, want %s", got, d)
		}
	case <-time.After(wait):
		t.Fatalf("no timer of %s after %s", d, wait)
	}
	c.Advance(d)
}

func start(t *testing.T, clk *armed, r *recorder) (*actor.ActorSystem, *actor.PID) {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	sys := actor.NewActorSystemWithConfig(actor.Configure(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet })))
	pid := sys.Root.Spawn(protohost.Props(host.Props{Name: r.name, New: func() host.Behaviour { return r }}, protohost.Env{Clock: clk}))
	t.Cleanup(func() {
		_ = sys.Root.StopFuture(pid).Wait()
		sys.Shutdown()
	})
	return sys, pid
}

func expect(t *testing.T, out <-chan string, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-out:
			if got != w {
				t.Fatalf("got %q, want %q", got, w)
			}
		case <-time.After(wait):
			t.Fatalf("nothing after %s, want %q", wait, w)
		}
	}
}

func TestProtohost_AChildIsRestartedAsItsStatedSupervisorSaysOnTheClock(t *testing.T) {
	out, clk := make(chan string, 64), newArmed()
	sup := host.Supervisor{Backoff: backoff.Policy{Initial: time.Second, Max: time.Minute}, Window: time.Hour}
	sys, parent := start(t, clk, &recorder{name: "parent", out: out, sup: sup})
	expect(t, out, "parent started")
	sys.Root.Send(parent, &v1.ResetSession{Cause: "spawn"})
	expect(t, out, "child started")

	sys.Root.Send(parent, &v1.ResetSession{Cause: "crash child"}) // the first crash: at once
	expect(t, out, "child released restarting=true", "child started")
	sys.Root.Send(parent, &v1.ResetSession{Cause: "crash child"}) // the second: after 1 s of the clock
	clk.advanceAfterTimer(t, time.Second)                         // nothing happened before: the clock held it
	expect(t, out, "child released restarting=true", "child started")

	sys.Root.Send(parent, &v1.ResetSession{Cause: "ask child"}) // Request and Respond
	expect(t, out, "parent got answer from child")
}

func TestProtohost_ATaskTellsInOrderAndTimersRunOnTheClock(t *testing.T) {
	out, clk, events := make(chan string, 64), newArmed(), make(chan int, 8)
	sys, pid := start(t, clk, &recorder{name: "a", out: out, events: events})
	expect(t, out, "a started")
	sys.Root.Send(pid, &v1.ResetSession{Cause: "go"})
	for i := range 5 {
		events <- i
	}
	close(events)
	expect(t, out, "a got 0", "a got 1", "a got 2", "a got 3", "a got 4", "a got closed")

	sys.Root.Send(pid, &v1.ResetSession{Cause: "after"})
	sys.Root.Send(pid, &v1.ResetSession{Cause: "answer"}) // nobody asked: no reply, no crash
	clk.advanceAfterTimer(t, time.Second)
	expect(t, out, "a got timer")
}

func TestProtohost_AChildSpawnedWithEventsHearsWhatIsPublishedUntilItStops(t *testing.T) {
	out, clk := make(chan string, 64), newArmed()
	sys, parent := start(t, clk, &recorder{name: "parent", out: out, sup: host.DefaultSupervisor()})
	expect(t, out, "parent started")
	before := sys.EventStream.Length()
	sys.Root.Send(parent, &v1.ResetSession{Cause: "spawn listener"})
	expect(t, out, "child started")
	subscriptions(t, sys, before+1) // the parent subscribes once Spawn returned, maybe after the child started
	sys.EventStream.Publish(&v1.ModelStatus{Cluster: "not picked"})
	sys.EventStream.Publish(&v1.SessionStatus{Key: "one"})
	expect(t, out, "child got one")

	sys.Root.Send(parent, &v1.ResetSession{Cause: "crash child"}) // a restart keeps the subscription
	expect(t, out, "child released restarting=true", "child started")
	sys.EventStream.Publish(&v1.SessionStatus{Key: "two"})
	expect(t, out, "child got two")

	sys.Root.Send(parent, &v1.ResetSession{Cause: "stop child"})
	expect(t, out, "child released restarting=false")
	subscriptions(t, sys, before) // the parent drops the subscription with the child
}

// subscriptions waits until the event stream has n subscriptions.
func subscriptions(t *testing.T, sys *actor.ActorSystem, n int32) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for sys.EventStream.Length() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions, want %d", sys.EventStream.Length(), n)
		}
		runtime.Gosched()
	}
}
