package watchers

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/goleak"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/protohost"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Every watch goroutine ends once its connection is closed, and timers stop with the actor. The one
// exception is protoactor's dead-letter throttle, which lives one throttle interval after a dead letter.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	)
}

// wait bounds each wait for an event; every wait ends as soon as the event arrives.
const wait = 20 * time.Second

var testBackoff = backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second}

// harness runs a watchers actor under a parent that forwards WatchSet and InjectCrash to it and hands every
// Changed it gets to the test.
type harness struct {
	t       *testing.T
	sys     *actor.ActorSystem
	parent  *actor.PID
	changed chan *v1.Changed
	logs    *logSink
}

// newHarness starts the actor on conn. Cleanup stops the actor and its system; the caller closes conn (after
// that, each watch goroutine gets its EventNotWatching and ends).
func newHarness(t *testing.T, conn zk.Conn, clk clock.Clock) *harness {
	t.Helper()
	h := &harness{t: t, changed: make(chan *v1.Changed, 256), logs: newLogSink()}
	quiet := slog.New(slog.DiscardHandler)
	h.sys = actor.NewActorSystemWithConfig(actor.Configure(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet })))
	props := protohost.Props(Props(Config{Conn: conn, Backoff: testBackoff}), protohost.Env{Clock: clk, Logger: slog.New(h.logs)})
	h.parent = h.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &parent{props: props, out: h.changed} }))
	t.Cleanup(func() {
		if err := h.sys.Root.StopFuture(h.parent).Wait(); err != nil {
			t.Errorf("stop: %v", err)
		}
		h.sys.Shutdown()
	})
	return h
}

type parent struct {
	props *actor.Props
	child *actor.PID
	out   chan<- *v1.Changed
}

func (p *parent) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		p.child = ctx.Spawn(p.props)
	case *v1.Changed:
		p.out <- msg
	case *v1.WatchSet, *v1.InjectCrash:
		ctx.Send(p.child, msg)
	}
}

func (h *harness) watch(targets ...any) {
	h.sys.Root.Send(h.parent, set(targets...))
}

func (h *harness) crash() {
	h.sys.Root.Send(h.parent, &v1.InjectCrash{Reason: "test"})
}

func render(c *v1.Changed) string {
	return Describe(c)
}

// expect waits for the next Changed and checks it is "kind path event".
func (h *harness) expect(want string) {
	h.t.Helper()
	h.expectAll(want)
}

// expectAll waits for len(want) Changed, in any order (each target's watches run on goroutines of their
// own), and checks they are want.
func (h *harness) expectAll(want ...string) {
	h.t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	var got []string
	for len(got) < len(want) {
		select {
		case c := <-h.changed:
			got = append(got, render(c))
		case <-deadline.C:
			h.t.Fatalf("timed out: got %q, want %q\nlog:\n%s", got, want, h.logs.dump())
		}
	}
	sort.Strings(got)
	want = append([]string(nil), want...)
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		h.t.Fatalf("changed %q, want %q\nlog:\n%s", got, want, h.logs.dump())
	}
}

// none checks that no Changed is waiting. Call it after a sync point (a log line, another Changed) that
// proves the input that must not report was already handled.
func (h *harness) none() {
	h.t.Helper()
	select {
	case c := <-h.changed:
		h.t.Fatalf("unexpected change %q", render(c))
	default:
	}
}

// logSink is a slog.Handler that keeps every record's message and attributes, so tests can wait for the
// actor to have handled an input that has no other visible outcome (a stale event).
type logSink struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed and replaced on every record
}

func newLogSink() *logSink { return &logSink{more: make(chan struct{})} }

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *logSink) WithGroup(string) slog.Handler            { return s }

func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, b.String())
	close(s.more)
	s.more = make(chan struct{})
	return nil
}

func (s *logSink) dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// waitFor waits for a log line containing every part, counting from line from, and returns the index after it.
func (s *logSink) waitFor(t *testing.T, from int, parts ...string) int {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for i := from; i < len(s.lines); i++ {
			if containsAll(s.lines[i], parts) {
				s.mu.Unlock()
				return i + 1
			}
		}
		from = len(s.lines)
		more := s.more
		s.mu.Unlock()
		select {
		case <-more:
		case <-deadline.C:
			t.Fatalf("timed out waiting for a log line with %q\nlog:\n%s", parts, s.dump())
		}
	}
}

func (s *logSink) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

func containsAll(line string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(line, p) {
			return false
		}
	}
	return true
}
