package executor_test

import (
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ochopod/ochopod/actors/executor"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/protohost"
)

const waitLong = 10 * time.Second

// barrier is answered by protoactor itself once the actor handled it (AutoRespond): every message sent to the
// actor before it has been handled by then. The executor ignores it.
type barrier struct{}

func (barrier) GetAutoResponse(actor.Context) any { return barrier{} }

// harness runs an executor under a parent actor that forwards what the executor reports to a channel.
type harness struct {
	t       testing.TB
	system  *actor.ActorSystem
	parent  *actor.PID
	exec    *actor.PID
	reports chan proto.Message
	output  *lines
	sender  atomic.Pointer[actor.PID] // whom the parent expects reports from
}

// props runs the executor's behaviour on the production host, its timers on clk.
func props(cfg executor.Config, clk clock.Clock) *actor.Props {
	return protohost.Props(executor.Props(cfg), protohost.Env{Clock: clk})
}

// quietSystem is an actor system that does not log.
func quietSystem() *actor.ActorSystem {
	return actor.NewActorSystemWithConfig(actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }),
	))
}

func newHarness(t testing.TB, cfg executor.Config, clk clock.Clock) *harness {
	t.Helper()
	h := &harness{t: t, reports: make(chan proto.Message, 1024), output: &lines{}}
	if cfg.Output == nil {
		cfg.Output = h.output.add
	}
	h.system = quietSystem()
	child := make(chan *actor.PID, 1)
	h.parent = h.system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			exec := ctx.Spawn(props(cfg, clk))
			h.sender.Store(exec)
			child <- exec
		case *v1.ExecStarted, *v1.ExecExited:
			if !ctx.Sender().Equal(h.sender.Load()) {
				t.Errorf("report %v from %v, not from the executor", m, ctx.Sender())
			}
			h.reports <- m.(proto.Message)
		}
	}))
	h.exec = <-child
	t.Cleanup(func() {
		_ = h.system.Root.StopFuture(h.parent).Wait()
		h.system.Shutdown()
	})
	return h
}

func (h *harness) send(m proto.Message) { h.system.Root.Send(h.exec, m) }

// sync returns once the executor, then the parent, handled everything sent to them so far.
func (h *harness) sync() {
	h.t.Helper()
	for _, pid := range []*actor.PID{h.exec, h.parent} {
		if _, err := h.system.Root.RequestFuture(pid, barrier{}, waitLong).Result(); err != nil {
			h.t.Fatalf("sync: %v", err)
		}
	}
}

func (h *harness) next() proto.Message {
	h.t.Helper()
	select {
	case m := <-h.reports:
		return m
	case <-time.After(waitLong):
		h.t.Fatal("no report from the executor")
		return nil
	}
}

func (h *harness) started(inc uint64) *v1.ExecStarted {
	h.t.Helper()
	m, ok := h.next().(*v1.ExecStarted)
	if !ok || m.GetIncarnation() != inc {
		h.t.Fatalf("got %T %v, want ExecStarted of incarnation %d", m, m, inc)
	}
	return m
}

func (h *harness) running(inc uint64) *v1.ExecStarted {
	h.t.Helper()
	m := h.started(inc)
	if m.GetFailure() != nil || m.GetPid() <= 0 {
		h.t.Fatalf("start of incarnation %d failed: %v", inc, m)
	}
	return m
}

func (h *harness) exited(inc uint64) *v1.ExecExited {
	h.t.Helper()
	m, ok := h.next().(*v1.ExecExited)
	if !ok || m.GetIncarnation() != inc {
		h.t.Fatalf("got %T %v, want ExecExited of incarnation %d", m, m, inc)
	}
	return m
}

// quiet checks that nothing was reported (after a sync).
func (h *harness) quiet() {
	h.t.Helper()
	h.sync()
	select {
	case m := <-h.reports:
		h.t.Fatalf("unexpected report %T %v", m, m)
	default:
	}
}

func tearDown(inc uint64, term bool, grace time.Duration, soft bool) *v1.ExecTearDown {
	return &v1.ExecTearDown{Incarnation: inc, Term: term, Grace: durationpb.New(grace), Soft: soft}
}

// lines collects output lines.
type lines struct {
	mu  sync.Mutex
	got []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, s)
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

func (l *lines) has(s string) bool {
	for _, g := range l.all() {
		if g == s {
			return true
		}
	}
	return false
}

// syncBuffer is a writer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// procState is the state letter of /proc/<pid>/stat ('Z' for a zombie), 0 once the process is gone.
func procState(pid int) (state byte, pgid int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 3 {
		return 0, 0
	}
	pgid, _ = strconv.Atoi(f[2])
	return f[0][0], pgid
}

// groupMembers lists the processes of a group, zombies included.
func groupMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, g := procState(pid); st != 0 && g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes (integration tests only).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
