package lifecycle_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/lifecycle"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/protohost"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/testkit/vclock"
)

// wait bounds every wait on the actors; nothing in these tests sleeps.
const wait = 10 * time.Second

const cluster = `{"pods":{"k1":{"ip":"10.0.0.1","seq":1}},"dependencies":{},"key":"k1"}`

// exitNow makes the fake executor's process end by itself with code.
func exitNow(code int32) proto.Message { return wrapperspb.Int32(code) }

// fakeExecutor answers like actors/executor, without processes: ExecStart starts incarnation n as pid 1000+n,
// ExecTearDown ends it as SIGTERM would (143), exitNow ends it with the given code. It reports to its parent
// with itself as the sender, like the real one.
type fakeExecutor struct {
	self    chan<- *actor.PID
	starts  chan<- *v1.ExecStart
	inc     uint64
	running bool
}

func (f *fakeExecutor) Started(ctx host.Context) { f.self <- ctx.Self().(protohost.Ref).PID() }

func (f *fakeExecutor) Release(host.Context, bool) {}

func (f *fakeExecutor) Receive(ctx host.Context, msg proto.Message) {
	switch msg := msg.(type) {
	case *v1.ExecStart:
		f.inc, f.running = msg.GetIncarnation(), true
		f.starts <- msg
		ctx.Request(ctx.Parent(), &v1.ExecStarted{Incarnation: f.inc, Pid: f.pid()})
	case *v1.ExecTearDown:
		if f.running && msg.GetIncarnation() == f.inc {
			f.running = false
			ctx.Request(ctx.Parent(), &v1.ExecExited{Incarnation: f.inc, Pid: f.pid(), Code: 143, Signal: 15, TornDown: true})
		}
	case *wrapperspb.Int32Value:
		if f.running {
			f.running = false
			ctx.Request(ctx.Parent(), &v1.ExecExited{Incarnation: f.inc, Pid: f.pid(), Code: msg.GetValue()})
		}
	}
}

func (f *fakeExecutor) pid() int64 { return 1000 + int64(f.inc) }

// app is a user lifecycle: Configure runs configure; it counts finalizes and answers sanity checks from check.
type app struct {
	configure func(c *sdk.Cluster) (sdk.Command, error)
	check     func(n int) error // the n-th sanity check, from 1
	checks    atomic.Int32
	finalized atomic.Int32
}

func (a *app) Configure(_ context.Context, c *sdk.Cluster) (sdk.Command, error) {
	return a.configure(c)
}

func (a *app) SanityCheck(context.Context, int) (map[string]any, error) {
	n := a.checks.Add(1)
	if a.check != nil {
		if err := a.check(int(n)); err != nil {
			return nil, err
		}
	}
	return map[string]any{"checks": n}, nil
}

func (a *app) Finalize(context.Context) { a.finalized.Add(1) }

func serve(c *sdk.Cluster) (sdk.Command, error) {
	return sdk.Command{Argv: []string{"serve", "--key", c.Key}, Env: map[string]string{"X": "1"}}, nil
}

type harness struct {
	t      *testing.T
	system *actor.ActorSystem
	pid    *actor.PID
	exec   *actor.PID
	clock  *vclock.Clock
	starts chan *v1.ExecStart
	w      *watcher
}

func start(t *testing.T, l sdk.Lifecycle, s lifecycle.Settings) *harness {
	t.Helper()
	discard := slog.New(slog.DiscardHandler)
	system := actor.NewActorSystemWithConfig(actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }),
	))
	self, starts := make(chan *actor.PID, 1), make(chan *v1.ExecStart, 16)
	h := &harness{t: t, system: system, clock: vclock.New(), starts: starts, w: watch(system)}
	h.pid = system.Root.Spawn(protohost.Props(lifecycle.Props(lifecycle.Config{
		Lifecycle:  l,
		Settings:   s,
		Env:        []string{"PATH=/bin", "X=0"},
		ClusterEnv: func(e *sdk.Envelope) []string { return []string{"OCHOPOD_KEY=" + e.Key()} },
		Executor: host.Props{Name: "executor", Supervisor: host.DefaultSupervisor(), New: func() host.Behaviour {
			return &fakeExecutor{self: self, starts: starts}
		}},
	}), protohost.Env{Clock: h.clock, Logger: discard}))
	t.Cleanup(func() {
		_ = system.Root.StopFuture(h.pid).Wait()
		h.w.stop()
		system.Shutdown()
	})
	select {
	case h.exec = <-self:
	case <-time.After(wait):
		t.Fatal("the executor was not spawned")
	}
	return h
}

func (h *harness) control(task v1.Task, body string) *v1.ControlReply {
	h.t.Helper()
	res, err := h.system.Root.RequestFuture(h.pid, &v1.ControlRequest{Task: task, Body: []byte(body)}, wait).Result()
	if err != nil {
		h.t.Fatalf("%v: %v", task, err)
	}
	r, ok := res.(*v1.ControlReply)
	if !ok {
		h.t.Fatalf("%v: reply %T", task, res)
	}
	return r
}

func (h *harness) wantCode(task v1.Task, body string, code int32) {
	h.t.Helper()
	if r := h.control(task, body); r.GetCode() != code {
		h.t.Fatalf("%v: %d %s, want %d", task, r.GetCode(), r.GetBody(), code)
	}
}

func (h *harness) nextStart() *v1.ExecStart {
	h.t.Helper()
	select {
	case s := <-h.starts:
		return s
	case <-time.After(wait):
		h.t.Fatal("no ExecStart")
		return nil
	}
}

// watcher keeps every LifecycleStatus published, so a test can wait for a state even if it was brief.
type watcher struct {
	mu      sync.Mutex
	all     []*v1.LifecycleStatus
	seen    int // until consumed the statuses before this one
	changed chan struct{}
	stop    func()
}

func watch(system *actor.ActorSystem) *watcher {
	w := &watcher{changed: make(chan struct{}, 1)}
	sub := system.EventStream.Subscribe(func(evt any) {
		st, ok := evt.(*v1.LifecycleStatus)
		if !ok {
			return
		}
		w.mu.Lock()
		w.all = append(w.all, st)
		w.mu.Unlock()
		select {
		case w.changed <- struct{}{}:
		default:
		}
	})
	w.stop = func() { system.EventStream.Unsubscribe(sub) }
	return w
}

// until waits for a status after the last one it returned that satisfies ok.
func (h *harness) until(what string, ok func(*v1.LifecycleStatus) bool) *v1.LifecycleStatus {
	h.t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	w := h.w
	for {
		w.mu.Lock()
		for i := w.seen; i < len(w.all); i++ {
			if ok(w.all[i]) {
				w.seen = i + 1
				st := w.all[i]
				w.mu.Unlock()
				return st
			}
		}
		var last *v1.LifecycleStatus
		if len(w.all) > 0 {
			last = w.all[len(w.all)-1]
		}
		w.mu.Unlock()
		select {
		case <-w.changed:
		case <-deadline.C:
			h.t.Fatalf("timed out waiting for %s; last status %v", what, last)
		}
	}
}

func process(p v1.ProcessState, starts int32) func(*v1.LifecycleStatus) bool {
	return func(st *v1.LifecycleStatus) bool { return st.GetProcess() == p && st.GetStarts() == starts }
}

const (
	stopped = v1.ProcessState_PROCESS_STATE_STOPPED
	running = v1.ProcessState_PROCESS_STATE_RUNNING
	dead    = v1.ProcessState_PROCESS_STATE_DEAD
)

func TestLifecycleActor_OnRunsTheProcess(t *testing.T) {
	h := start(t, &app{configure: serve}, lifecycle.Settings{Checks: 3, Cwd: "/srv"})
	h.until("stopped at first", process(stopped, 0))
	h.wantCode(v1.Task_TASK_ON, cluster, 200)
	s := h.nextStart()
	if !slices.Equal(s.GetArgv(), []string{"serve", "--key", "k1"}) || s.GetCwd() != "/srv" {
		t.Fatalf("start %v", s)
	}
	// The pod's environment, then the runtime's variables, then configure's overrides.
	if want := []string{"PATH=/bin", "X=1", "OCHOPOD_KEY=k1"}; !slices.Equal(s.GetEnv(), want) {
		t.Fatalf("environment %q, want %q", s.GetEnv(), want)
	}
	st := h.until("running", process(running, 1))
	if st.GetPid() != 1001 {
		t.Fatalf("status %v: want pid 1001", st)
	}
	h.until("the first sanity check's metrics", func(st *v1.LifecycleStatus) bool { return string(st.GetMetrics()) == `{"checks":1}` })
	res, err := h.system.Root.RequestFuture(h.pid, &v1.GetLifecycleStatus{}, wait).Result()
	if got, ok := res.(*v1.LifecycleStatus); err != nil || !ok || got.GetProcess() != running {
		t.Fatalf("GetLifecycleStatus: %v %v", res, err)
	}
}

func TestLifecycleActor_CrashRestartsTheProcess(t *testing.T) {
	h := start(t, &app{configure: serve}, lifecycle.Settings{Checks: 3})
	h.wantCode(v1.Task_TASK_ON, cluster, 200)
	first := h.nextStart()
	h.until("running", process(running, 1))
	h.system.Root.Send(h.exec, exitNow(2))
	st := h.until("running again", process(running, 2))
	if again := h.nextStart(); !slices.Equal(again.GetArgv(), first.GetArgv()) || again.GetIncarnation() <= first.GetIncarnation() {
		t.Fatalf("restart %v after %v: want the same command, a later incarnation", again, first)
	}
	if st.GetPid() != 1002 {
		t.Fatalf("status %v", st)
	}
}

func TestLifecycleActor_ExitZeroKillsThePod(t *testing.T) {
	l := &app{configure: serve}
	h := start(t, l, lifecycle.Settings{})
	h.wantCode(v1.Task_TASK_ON, cluster, 200)
	h.until("running", process(running, 1))
	h.system.Root.Send(h.exec, exitNow(0))
	st := h.until("dead", process(dead, 1))
	if st.GetExitCode() != 0 || l.finalized.Load() != 1 {
		t.Fatalf("status %v, finalized %d times: want exit code 0, finalized once", st, l.finalized.Load())
	}
	h.wantCode(v1.Task_TASK_ON, cluster, 410)
	h.wantCode(v1.Task_TASK_KILL, "", 410)
	if l.finalized.Load() != 1 {
		t.Fatalf("finalized %d times", l.finalized.Load())
	}
}

func TestLifecycleActor_PanickingConfigureIs406ThenDead(t *testing.T) {
	h := start(t, &app{configure: func(*sdk.Cluster) (sdk.Command, error) { panic("boom") }}, lifecycle.Settings{})
	h.wantCode(v1.Task_TASK_ON, cluster, 406)
	st := h.until("dead", process(dead, 0))
	if st.GetExitCode() != 1 {
		t.Fatalf("status %v: want exit code 1", st)
	}
	h.wantCode(v1.Task_TASK_CHECK, cluster, 410)
}

func TestLifecycleActor_FailedChecksOnTheClockTurnThePodOff(t *testing.T) {
	l := &app{configure: serve, check: func(n int) error {
		if n > 1 {
			return errors.New("unhealthy")
		}
		return nil
	}}
	h := start(t, l, lifecycle.Settings{CheckEvery: time.Minute})
	h.wantCode(v1.Task_TASK_ON, cluster, 200)
	h.until("the first check passed", func(st *v1.LifecycleStatus) bool { return string(st.GetMetrics()) == `{"checks":1}` })
	// The next check is a timer on the virtual clock: it runs only when the test moves time.
	h.clock.Advance(time.Minute)
	h.until("turned off", process(stopped, 1))
	h.wantCode(v1.Task_TASK_ON, "", 200) // alive: the last configuration starts again
	h.until("running again", process(running, 2))
}

func TestLifecycleActor_KillTearsDownAndFinalizesOnce(t *testing.T) {
	l := &app{configure: serve}
	h := start(t, l, lifecycle.Settings{})
	h.wantCode(v1.Task_TASK_ON, cluster, 200)
	h.until("running", process(running, 1))
	h.wantCode(v1.Task_TASK_KILL, "", 200)
	st := h.until("dead", process(dead, 1))
	if st.GetExitCode() != 143 || l.finalized.Load() != 1 {
		t.Fatalf("status %v, finalized %d times", st, l.finalized.Load())
	}
}

// DESIGN §7: GetBase is the cluster of the last on answered 200, as sent (a new leader's guess of its pods'
// bases); none before, and a check does not move it.
func TestLifecycleActor_GetBaseIsTheClusterOfTheLastOn(t *testing.T) {
	h := start(t, &app{configure: serve}, lifecycle.Settings{})
	base := func() *v1.Base {
		t.Helper()
		res, err := h.system.Root.RequestFuture(h.pid, &v1.GetBase{}, wait).Result()
		b, ok := res.(*v1.Base)
		if err != nil || !ok {
			t.Fatalf("GetBase: %v %v", res, err)
		}
		return b
	}
	if b := base(); len(b.GetPods()) != 0 || len(b.GetDependencies()) != 0 {
		t.Fatalf("a base before any on: %v", b)
	}
	const deps = `{"pods":{"k1":{"ip":"10.0.0.1","seq":1}},"dependencies":{"db":{"d1":{"ip":"10.0.1.1"}}},"key":"k1"}`
	h.wantCode(v1.Task_TASK_ON, deps, 200)
	h.wantCode(v1.Task_TASK_CHECK, cluster, 200)
	b := base()
	if len(b.GetPods()) != 1 || string(b.GetPods()["k1"]) != `{"ip":"10.0.0.1","seq":1}` ||
		len(b.GetDependencies()) != 1 || string(b.GetDependencies()["db"]) != `{"d1":{"ip":"10.0.1.1"}}` {
		t.Fatalf("GetBase after on: %v", b)
	}
}
