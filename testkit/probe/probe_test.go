package probe_test

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/ochopod/ochopod/testkit/probe"
	"github.com/ochopod/ochopod/testkit/vclock"
)

// Every goroutine the tests start must be gone at the end. The one exception is protoactor's dead-letter
// throttle, a goroutine of its own that lives one throttle interval (1 s) after a dead letter and then ends
// by itself.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	)
}

// wait bounds every wait; nothing in these tests sleeps.
const wait = 10 * time.Second

func str(s string) *wrapperspb.StringValue { return wrapperspb.String(s) }

// is matches a StringValue holding s.
func is(s string) func(proto.Message) bool {
	return func(m proto.Message) bool {
		v, ok := m.(*wrapperspb.StringValue)
		return ok && v.GetValue() == s
	}
}

// stop stops pid when the test ends (before the system's shutdown, registered earlier).
func stop(t *testing.T, system *actor.ActorSystem, pid *actor.PID) {
	t.Cleanup(func() { _ = system.Root.StopFuture(pid).Wait() })
}

// echo answers "ping:x" with "pong:x" to the sender, and forwards "fwd:x" to the PID in to.
type echo struct{ to *actor.PID }

func (e *echo) Receive(ctx actor.Context) {
	v, ok := ctx.Message().(*wrapperspb.StringValue)
	if !ok {
		return
	}
	switch s := v.GetValue(); {
	case strings.HasPrefix(s, "ping:"):
		ctx.Respond(str("pong:" + strings.TrimPrefix(s, "ping:")))
	case strings.HasPrefix(s, "fwd:"):
		ctx.Forward(e.to)
	}
}

func TestProbe_RecordsWhatAnActorReceivesAndSends(t *testing.T) {
	system, p := probe.NewSystem(t), probe.New()
	caller := probe.NewActor(p, nil)
	callerPID := caller.Spawn(system)
	stop(t, system, callerPID)
	echoPID := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &echo{} },
		actor.WithReceiverMiddleware(p.Receiver()), actor.WithSenderMiddleware(p.Sender())))
	stop(t, system, echoPID)

	caller.Send(t, echoPID, str("ping:1"))
	p.WaitFor(t, is("pong:1"), wait)        // sent by echo
	got := p.WaitFor(t, is("pong:1"), wait) // received by the double: the cursor moved past the send
	if !proto.Equal(got, str("pong:1")) {
		t.Fatalf("got %v", got)
	}

	var conv []string
	for _, r := range p.Records() {
		if v, ok := r.Message.(*wrapperspb.StringValue); ok {
			who := "caller"
			if r.Actor.Equal(echoPID) {
				who = "echo"
			}
			conv = append(conv, fmt.Sprintf("%s %s %s", who, r.Dir, v.GetValue()))
			// The double requests (echo sees it as the sender); Respond sends without a sender.
			if r.Dir == probe.Received && who == "echo" && (r.Peer == nil || !r.Peer.Equal(callerPID)) {
				t.Errorf("%v: peer %v, want the caller", r, r.Peer)
			}
		}
	}
	want := []string{"caller sent ping:1", "echo received ping:1", "echo sent pong:1", "caller received pong:1"}
	if !slices.Equal(conv, want) {
		t.Fatalf("conversation %q, want %q", conv, want)
	}
	if n := len(p.Messages()); n != 4 {
		t.Fatalf("Messages: %d, want the 4 protobuf ones (lifecycle messages are left out)", n)
	}
	started := 0
	for _, r := range p.Records() {
		if _, ok := r.Message.(*actor.Started); ok {
			started++
		}
	}
	if started != 2 {
		t.Fatalf("%d Started records, want one per actor", started)
	}
}

// gate blocks in Receive on "block" until the gate opens.
type gate struct{ open chan struct{} }

func (g gate) Receive(ctx actor.Context) {
	if v, ok := ctx.Message().(*wrapperspb.StringValue); ok && v.GetValue() == "block" {
		<-g.open
	}
}

// waitInFlight waits, on the probe's notifications, until it reports exactly n in flight.
func waitInFlight(t *testing.T, i probe.Idler, n int) {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		got, changed := i.InFlight()
		if got == n {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("in flight: %d, want %d: %v", got, n, i)
		}
	}
}

func TestProbe_CountsQueuedMessagesAndBusyReceivers(t *testing.T) {
	system, p := probe.NewSystem(t), probe.New()
	g := gate{open: make(chan struct{})}
	target := system.Root.Spawn(p.Wrap(actor.PropsFromProducer(func() actor.Actor { return g })))
	stop(t, system, target)
	sender := probe.NewActor(p, func(ctx actor.Context) {
		if v, ok := ctx.Message().(*wrapperspb.StringValue); ok && v.GetValue() == "go" {
			for _, s := range []string{"block", "a", "b"} {
				ctx.Send(target, str(s))
			}
		}
	})
	pid := sender.Spawn(system)
	stop(t, system, pid)
	probe.WaitIdle(t, wait, p)

	system.Root.Send(pid, str("go"))
	// The target is stuck in its first Receive, the other two wait in its mailbox.
	waitInFlight(t, p, 3)
	close(g.open)
	probe.WaitIdle(t, wait, p)
	var got []string
	for _, r := range p.Records() {
		if v, ok := r.Message.(*wrapperspb.StringValue); ok && r.Dir == probe.Received && r.Actor.Equal(target) {
			got = append(got, v.GetValue())
		}
	}
	if !slices.Equal(got, []string{"block", "a", "b"}) {
		t.Fatalf("target received %q", got)
	}
}

func TestProbe_MessagesToAStoppedActorAreNotInFlight(t *testing.T) {
	system, p := probe.NewSystem(t), probe.New()
	g := gate{open: make(chan struct{})}
	target := system.Root.Spawn(p.Wrap(actor.PropsFromProducer(func() actor.Actor { return g })))
	sender := probe.NewActor(p, func(ctx actor.Context) {
		if v, ok := ctx.Message().(*wrapperspb.StringValue); ok && v.GetValue() == "go" {
			ctx.Send(target, str("block"))
			ctx.Send(target, str("lost"))
		}
	})
	pid := sender.Spawn(system)
	stop(t, system, pid)
	system.Root.Send(pid, str("go"))
	waitInFlight(t, p, 2) // blocked on "block", "lost" queued
	stopped := system.Root.StopFuture(target)
	close(g.open)
	if err := stopped.Wait(); err != nil {
		t.Fatal(err)
	}
	probe.WaitIdle(t, wait, p) // "lost" never arrives, and does not count
	sender.Send(t, target, str("after the stop"))
	probe.WaitIdle(t, wait, p)
	for _, r := range p.Records() {
		if v, ok := r.Message.(*wrapperspb.StringValue); ok && r.Dir == probe.Received && v.GetValue() != "block" && r.Actor.Equal(target) {
			t.Fatalf("the stopped actor received %v", r)
		}
	}
}

func TestProbe_ForwardAndRequestFutureReplies(t *testing.T) {
	system, p := probe.NewSystem(t), probe.New()
	last := probe.NewActor(p, probe.Reply(func(msg any) any {
		if v, ok := msg.(*wrapperspb.StringValue); ok {
			return str("seen " + v.GetValue())
		}
		return nil
	}))
	lastPID := last.Spawn(system)
	stop(t, system, lastPID)
	middle := system.Root.Spawn(p.Wrap(actor.PropsFromProducer(func() actor.Actor { return &echo{to: lastPID} })))
	stop(t, system, middle)

	// A request from outside: the reply goes to a future, which is never in flight.
	res, err := system.Root.RequestFuture(middle, str("fwd:x"), wait).Result()
	if err != nil || !proto.Equal(res.(proto.Message), str("seen fwd:x")) {
		t.Fatalf("reply %v %v", res, err)
	}
	probe.WaitIdle(t, wait, p)
	rec := p.WaitForRecord(t, func(r probe.Record) bool { return r.Dir == probe.Received && r.Actor.Equal(lastPID) && r.Peer != nil }, wait)
	if !strings.HasPrefix(rec.Peer.GetId(), "future") {
		t.Fatalf("forwarded message lost its sender: %v", rec)
	}
}

func TestProbe_ACrashingReceiveIsNotLeftBusy(t *testing.T) {
	system, p := probe.NewSystem(t), probe.New()
	crash := system.Root.Spawn(p.Wrap(actor.PropsFromFunc(func(ctx actor.Context) {
		if v, ok := ctx.Message().(*wrapperspb.StringValue); ok && v.GetValue() == "boom" {
			panic("boom")
		}
	})))
	stop(t, system, crash)
	system.Root.Send(crash, str("boom"))
	p.WaitForRecord(t, func(r probe.Record) bool { _, ok := r.Message.(*actor.Restarting); return ok }, wait)
	p.WaitForRecord(t, func(r probe.Record) bool { _, ok := r.Message.(*actor.Started); return ok }, wait)
	probe.WaitIdle(t, wait, p)
}

// timed arms a timer on the virtual clock for each "arm:<duration>"; the timer sends "fired" to the actor
// through the root context, as the project's actors do.
func timed(clk *vclock.Clock) actor.ReceiveFunc {
	return func(ctx actor.Context) {
		v, ok := ctx.Message().(*wrapperspb.StringValue)
		if !ok || !strings.HasPrefix(v.GetValue(), "arm:") {
			return
		}
		d, _ := time.ParseDuration(strings.TrimPrefix(v.GetValue(), "arm:"))
		root, self := ctx.ActorSystem().Root, ctx.Self()
		clk.AfterFunc(d, func() { root.Send(self, str("fired")) })
	}
}

func TestQuiesce_FiresDueTimersAndWaitsForWhatTheySend(t *testing.T) {
	system, p, clk := probe.NewSystem(t), probe.New(), vclock.New()
	p.TrackRoot(system) // timer callbacks send through the root
	pid := system.Root.Spawn(p.Wrap(actor.PropsFromFunc(timed(clk))))
	stop(t, system, pid)
	fired := func() int {
		n := 0
		for _, r := range p.Records() {
			if v, ok := r.Message.(*wrapperspb.StringValue); ok && r.Dir == probe.Received && v.GetValue() == "fired" {
				n++
			}
		}
		return n
	}

	system.Root.Send(pid, str("arm:0s"))
	probe.Quiesce(t, clk, p) // the arm is delivered, its timer is due at once: fired, and "fired" delivered
	if n := fired(); n != 1 {
		t.Fatalf("after Quiesce: %d fired, want 1", n)
	}
	system.Root.Send(pid, str("arm:1m"))
	probe.Quiesce(t, clk, p) // the timer is not due: Quiesce does not move time
	if n := fired(); n != 1 || !clk.Now().Equal(vclock.Epoch()) {
		t.Fatalf("after Quiesce: %d fired at %v", n, clk.Now())
	}
	probe.RunUntil(t, clk, func() bool { return fired() == 2 }, p)
	if got := clk.Now().Sub(vclock.Epoch()); got != time.Minute {
		t.Fatalf("RunUntil moved time by %v, want 1m", got)
	}
}

// fakeT fails like testing.T but lets the test look at the failure: Fatalf ends the goroutine it runs on.
type fakeT struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// failure runs fn with a fakeT on a goroutine of its own and returns its failure message ("" if none).
func failure(fn func(t testing.TB)) string {
	f := &fakeT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

func TestProbe_WaitsFailWithWhatTheySaw(t *testing.T) {
	system, p := probe.NewSystem(t), probe.New()
	g := gate{open: make(chan struct{})}
	pid := system.Root.Spawn(p.Wrap(actor.PropsFromProducer(func() actor.Actor { return g })))
	stop(t, system, pid)
	system.Root.Send(pid, str("block"))
	p.WaitFor(t, is("block"), wait)

	msg := failure(func(ft testing.TB) { p.WaitFor(ft, is("never"), time.Millisecond) })
	if !strings.Contains(msg, "no matching message") || !strings.Contains(msg, "StringValue") {
		t.Fatalf("WaitFor failure: %q", msg)
	}
	msg = failure(func(ft testing.TB) { probe.WaitIdle(ft, time.Millisecond, p) })
	if !strings.Contains(msg, "not idle") || !strings.Contains(msg, "1 Receive running") {
		t.Fatalf("WaitIdle failure: %q", msg)
	}
	close(g.open)
	probe.WaitIdle(t, wait, p)

	clk := vclock.New()
	msg = failure(func(ft testing.TB) { probe.RunUntil(ft, clk, func() bool { return false }, p) })
	if !strings.Contains(msg, "no timer is left") {
		t.Fatalf("RunUntil failure: %q", msg)
	}
}

func TestActor_AsParentRecordsWhatItsChildReports(t *testing.T) {
	system, p := probe.NewSystem(t), probe.New()
	parent := probe.NewActor(p, nil)
	pid := parent.Spawn(system)
	stop(t, system, pid)
	child := parent.SpawnChild(t, actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*actor.Started); ok {
			ctx.Request(ctx.Parent(), str("child up"))
		}
	}))
	r := p.WaitForRecord(t, func(r probe.Record) bool {
		v, ok := r.Message.(*wrapperspb.StringValue)
		return ok && v.GetValue() == "child up" && r.Dir == probe.Received
	}, wait)
	if !r.Actor.Equal(pid) || !r.Peer.Equal(child) {
		t.Fatalf("record %v: want received by the double from its child", r)
	}
}

func TestActor_AsChildAnswersItsParent(t *testing.T) {
	system, p := probe.NewSystem(t), probe.New()
	double := probe.NewActor(p, probe.Reply(func(msg any) any {
		if _, ok := msg.(*wrapperspb.StringValue); ok {
			return str("ack")
		}
		return nil
	}))
	answers := make(chan string, 1)
	parent := system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			ctx.Request(ctx.Spawn(double.Props()), str("hello"))
		case *wrapperspb.StringValue:
			answers <- m.GetValue()
		}
	}))
	stop(t, system, parent)
	child := double.WaitStarted(t, wait)
	select {
	case a := <-answers:
		if a != "ack" {
			t.Fatalf("answer %q", a)
		}
	case <-time.After(wait):
		t.Fatal("no answer")
	}
	r := p.WaitForRecord(t, func(r probe.Record) bool { return r.Dir == probe.Received && parent.Equal(r.Peer) }, wait)
	if !r.Actor.Equal(child) || !proto.Equal(r.Message.(proto.Message), str("hello")) {
		t.Fatalf("record %v", r)
	}
}
