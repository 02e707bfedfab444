package lifecycle

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
)

// every is a lifecycle implementing every optional callback.
var every = Implements{Initialize: true, CanConfigure: true, Configured: true, SanityCheck: true, TearDown: true, Signaled: true, Finalize: true}

var backoffPolicy = backoff.Policy{Initial: time.Second, Max: time.Minute}

func newTestMachine(s Settings, impl Implements) *Machine {
	return NewMachine(MachineConfig{Settings: s, Implements: impl})
}

// kinds names the effects, dropping logs and publications, so tables read as the protocol.
func kinds(effects []Effect) []string {
	var out []string
	for _, e := range effects {
		switch e := e.(type) {
		case Log, Publish:
		case RunCallback:
			out = append(out, fmt.Sprintf("cb#%d(%s)", e.Epoch, protocol.Name(e.Name)))
		case CancelCallback:
			out = append(out, fmt.Sprintf("cancel#%d", e.Epoch))
		case StartProcess:
			out = append(out, fmt.Sprintf("start#%d(%s)", e.Incarnation, strings.Join(e.Argv, " ")))
		case TearDownProcess:
			how := "user"
			if e.Term {
				how = "term"
			}
			if e.Soft {
				how += ",soft"
			}
			out = append(out, fmt.Sprintf("teardown#%d(%s,%s)", e.Incarnation, how, e.Grace))
		case SignalProcess:
			out = append(out, fmt.Sprintf("signal#%d(%d)", e.Incarnation, e.Signal))
		case Reply:
			out = append(out, fmt.Sprintf("reply#%d(%d)", e.Handle, e.Code))
		case StartTimer:
			out = append(out, fmt.Sprintf("timer#%d(%s,%s)", e.Epoch, protocol.Name(e.Name), e.After))
		case Configured:
			out = append(out, fmt.Sprintf("configured(%s)", e.Phase))
		default:
			out = append(out, fmt.Sprintf("%T", e))
		}
	}
	return out
}

type step struct {
	in   any
	want []string
}

func run(t *testing.T, m *Machine, steps []step) {
	t.Helper()
	for i, s := range steps {
		got := kinds(m.Handle(input(s.in)))
		if !reflect.DeepEqual(got, s.want) && !(len(got) == 0 && len(s.want) == 0) {
			t.Fatalf("step %d (%T %v): effects %q, want %q", i, s.in, s.in, got, s.want)
		}
	}
}

// Clusters as the leader sends them. b has one more pod than a, same dependencies; c has other dependencies.
const (
	clusterA = `{"pods":{"k1":{"ip":"10.0.0.1","seq":1}},"dependencies":{"ns.db":{"d1":{"ip":"10.0.1.1"}}},"key":"k1"}`
	clusterB = `{"pods":{"k1":{"ip":"10.0.0.1","seq":1},"k2":{"ip":"10.0.0.2","seq":2}},"dependencies":{"ns.db":{"d1":{"ip":"10.0.1.1"}}},"key":"k1"}`
	clusterC = `{"pods":{"k1":{"ip":"10.0.0.1","seq":1}},"dependencies":{"ns.db":{"d2":{"ip":"10.0.1.2"}}},"key":"k1"}`
)

func req(h uint64, task v1.Task, body string) *v1.Queued {
	return &v1.Queued{Handle: h, Request: &v1.ControlRequest{Task: task, Body: []byte(body)}}
}

func on(h uint64, body string) *v1.Queued { return req(h, v1.Task_TASK_ON, body) }

func done(epoch uint64, name v1.Callback) *v1.CallbackDone {
	return &v1.CallbackDone{Epoch: epoch, Callback: name}
}

func failed(epoch uint64, name v1.Callback, err string) *v1.CallbackDone {
	return &v1.CallbackDone{Epoch: epoch, Callback: name, Failure: protocol.Other(err)}
}

func configured(epoch uint64, argv ...string) *v1.CallbackDone {
	return &v1.CallbackDone{Epoch: epoch, Callback: cbConfigure, Argv: argv, Env: map[string]string{"X": "1"}}
}

func started(inc uint64, pid int64) *v1.ExecStarted {
	return &v1.ExecStarted{Incarnation: inc, Pid: pid}
}

func exited(inc uint64, code int32) *v1.ExecExited {
	return &v1.ExecExited{Incarnation: inc, Pid: 100, Code: code}
}

func tornDown(inc uint64) *v1.ExecExited {
	return &v1.ExecExited{Incarnation: inc, Pid: 100, Code: 143, Signal: 15, TornDown: true}
}

func fired(name v1.Timer, epoch uint64) *v1.TimerFired {
	return &v1.TimerFired{Timer: name, Epoch: epoch}
}

// running brings a machine implementing every callback to a running process: pid 100, incarnation 1,
// callback epochs 1 (initialize), 2 (configure), 3 (the first sanity check, passed).
func running(t *testing.T, s Settings) *Machine {
	t.Helper()
	m := newTestMachine(s, every)
	run(t, m, []step{
		{on(1, clusterA), []string{"cb#1(initialize)"}},
		{done(1, cbInitialize), []string{"cb#2(configure)"}},
		{configured(2, "app", "--x"), []string{"start#1(app --x)"}},
		// DESIGN §6: 200 once started; the first sanity check right away, the next one check_every later.
		{started(1, 100), []string{"reply#1(200)", "timer#1(check,1m0s)", "cb#3(sanity_check)"}},
		{&v1.CallbackDone{Epoch: 3, Callback: cbSanityCheck, Result: []byte(`{"ok":true}`)}, nil},
	})
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_RUNNING, 100, 1)
	return m
}

func wantStatus(t *testing.T, m *Machine, p v1.ProcessState, pid int64, starts int32) {
	t.Helper()
	st := m.Status()
	if st.GetProcess() != p || st.GetPid() != pid || st.GetStarts() != starts {
		t.Fatalf("status %v, want process %v pid %d starts %d", st, p, pid, starts)
	}
}

func TestLifecycle_OnInitializesConfiguresAndStarts(t *testing.T) {
	m := running(t, Settings{})
	st := m.Status()
	if string(st.GetMetrics()) != `{"ok":true}` || !reflect.DeepEqual(st.GetDependencies(), []string{"ns.db"}) {
		t.Fatalf("status %v: want the check's metrics and the configuration's dependencies", st)
	}
}

func TestLifecycle_OnStartsWithTheOverridesAndTheCluster(t *testing.T) {
	m := newTestMachine(Settings{Shell: true, Cwd: "/srv", Pipe: true}, Implements{})
	m.Handle(input(on(1, clusterA)))
	effects := m.Handle(input(configured(1, "app")))
	if len(effects) == 0 {
		t.Fatal("no effects")
	}
	s, ok := effects[0].(StartProcess)
	if !ok {
		t.Fatalf("effects %q, want a start", kinds(effects))
	}
	if !s.Shell || s.Cwd != "/srv" || !s.Pipe || s.Overrides["X"] != "1" || s.Envelope == nil || s.Envelope.Key() != "k1" {
		t.Fatalf("start %+v: want the settings, the overrides and the cluster", s)
	}
}

func TestLifecycle_BareLifecycleNeedsNoCallbackButConfigure(t *testing.T) {
	m := newTestMachine(Settings{}, Implements{})
	run(t, m, []step{
		{on(1, clusterA), []string{"cb#1(configure)"}},
		{configured(1, "app"), []string{"start#1(app)"}},
		// No sanity_check: the check passes without a round trip.
		{started(1, 100), []string{"reply#1(200)", "timer#1(check,1m0s)"}},
		{req(2, v1.Task_TASK_CHECK, clusterA), []string{"reply#2(200)"}},
		{req(3, v1.Task_TASK_OK, clusterA), []string{"reply#3(200)"}},
		{req(4, v1.Task_TASK_SIGNAL, `{"x":1}`), []string{"reply#4(200)"}},
		// Default tear-down: the executor sends SIGTERM.
		{req(5, v1.Task_TASK_OFF, ""), []string{"teardown#1(term,1m0s)"}},
		{tornDown(1), []string{"reply#5(200)"}},
		{req(6, v1.Task_TASK_KILL, ""), []string{"reply#6(200)"}},
	})
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_DEAD, 0, 1)
}

// DESIGN §6, row check: 406 for a failed can_configure and for a body that is not a cluster; never fatal.
func TestLifecycle_CheckRow(t *testing.T) {
	check := func(body string) *v1.Queued { return req(1, v1.Task_TASK_CHECK, body) }
	for _, tc := range []struct {
		name  string
		impl  Implements
		steps []step
	}{
		{"passes", every, []step{{check(clusterA), []string{"cb#1(can_configure)"}}, {done(1, cbCanConfigure), []string{"reply#1(200)"}}}},
		{"fails", every, []step{{check(clusterA), []string{"cb#1(can_configure)"}}, {failed(1, cbCanConfigure, "not yet"), []string{"reply#1(406)"}}}},
		{"not implemented", Implements{}, []step{{check(clusterA), []string{"reply#1(200)"}}}},
		{"no body", every, []step{{check(""), []string{"reply#1(406)"}}}},
		{"not JSON", every, []step{{check(`{"pods":`), []string{"reply#1(400)"}}}},
		{"JSON, not a cluster", every, []step{{check(`["pods"]`), []string{"reply#1(406)"}}}},
		{"key not among the pods", every, []step{{check(`{"pods":{"k1":{}},"key":"k9"}`), []string{"reply#1(406)"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMachine(Settings{}, tc.impl)
			run(t, m, tc.steps)
			if m.Dead() {
				t.Fatal("a check killed the pod")
			}
		})
	}
}

// DESIGN §6, row ok.
func TestLifecycle_OKRow(t *testing.T) {
	m := newTestMachine(Settings{}, every)
	run(t, m, []step{
		{req(1, v1.Task_TASK_OK, clusterA), []string{"cb#1(configured)"}},
		{done(1, cbConfigured), []string{"reply#1(200)"}},
		{req(2, v1.Task_TASK_OK, clusterA), []string{"cb#2(configured)"}},
		{failed(2, cbConfigured, "boom"), []string{"reply#2(500)"}},
		// The original asserted a cluster: an ok without one is a leader bug.
		{req(3, v1.Task_TASK_OK, ""), []string{"reply#3(500)"}},
		{req(4, v1.Task_TASK_OK, "{not json"), []string{"reply#4(400)"}},
	})
}

// DESIGN §6, row signal.
func TestLifecycle_SignalRow(t *testing.T) {
	m := running(t, Settings{})
	effects := m.Handle(input(req(2, v1.Task_TASK_SIGNAL, `{"do":"reload"}`)))
	cb, ok := effects[0].(RunCallback)
	if !ok || cb.Name != cbSignaled || string(cb.Payload) != `{"do":"reload"}` || cb.Pid != 100 {
		t.Fatalf("effects %+v: want signaled with the payload and the pid", effects)
	}
	effects = m.Handle(input(&v1.CallbackDone{Epoch: cb.Epoch, Callback: cbSignaled, Result: []byte(`{"reloaded":1}`)}))
	r, ok := effects[0].(Reply)
	if !ok || r.Code != 200 || string(r.Body) != `{"reloaded":1}` {
		t.Fatalf("effects %+v: want 200 with the callback's JSON", effects)
	}
	effects = m.Handle(input(req(3, v1.Task_TASK_SIGNAL, "")))
	if cb, ok := effects[0].(RunCallback); !ok || string(cb.Payload) != `{}` {
		t.Fatalf("effects %+v: want signaled with {} for no body, like the original", effects)
	}
	run(t, m, []step{{failed(5, cbSignaled, "boom"), []string{"reply#3(500)"}}})
}

// DESIGN §6, row off: the user's tear_down runs while the executor's grace runs.
func TestLifecycle_OffTearsDownWithTheUsersTearDown(t *testing.T) {
	m := running(t, Settings{Grace: 5 * time.Second, Soft: true})
	run(t, m, []step{
		{req(2, v1.Task_TASK_OFF, ""), []string{"cb#4(tear_down)", "teardown#1(user,soft,5s)"}},
		{done(4, cbTearDown), nil},
		{tornDown(1), []string{"reply#2(200)"}},
		{req(3, v1.Task_TASK_OFF, ""), []string{"reply#3(200)"}}, // nothing runs: 200 at once
	})
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_STOPPED, 0, 1)
	if len(m.Status().GetMetrics()) != 0 {
		t.Fatal("a stopped process keeps its metrics")
	}
}

func TestLifecycle_TerminatingIsPublished(t *testing.T) {
	m := running(t, Settings{})
	var states []v1.ProcessState
	for _, in := range []any{req(2, v1.Task_TASK_OFF, ""), done(4, cbTearDown), tornDown(1)} {
		for _, e := range m.Handle(input(in)) {
			if p, ok := e.(Publish); ok {
				states = append(states, p.Status.GetProcess())
			}
		}
	}
	want := []v1.ProcessState{v1.ProcessState_PROCESS_STATE_TERMINATING, v1.ProcessState_PROCESS_STATE_STOPPED}
	if !reflect.DeepEqual(states, want) {
		t.Fatalf("published %v, want %v (once each)", states, want)
	}
}

func TestLifecycle_FailedTearDownFallsBackToSIGTERM(t *testing.T) {
	m := running(t, Settings{})
	run(t, m, []step{
		{req(2, v1.Task_TASK_OFF, ""), []string{"cb#4(tear_down)", "teardown#1(user,1m0s)"}},
		{failed(4, cbTearDown, "cannot reach the admin port"), []string{"signal#1(15)"}},
		{tornDown(1), []string{"reply#2(200)"}},
	})
}

func TestLifecycle_ProcessGoneBeforeTearDownReturnsCancelsItAndWaits(t *testing.T) {
	m := running(t, Settings{})
	run(t, m, []step{
		{req(2, v1.Task_TASK_OFF, ""), []string{"cb#4(tear_down)", "teardown#1(user,1m0s)"}},
		{tornDown(1), []string{"cancel#4"}},
		{req(3, v1.Task_TASK_OK, clusterA), nil}, // callbacks never overlap: waits for the tear_down to return
		{failed(4, cbTearDown, "context canceled"), []string{"reply#2(200)", "cb#5(configured)"}},
		{failed(4, cbTearDown, "context canceled"), nil}, // a duplicate: dropped
		{done(5, cbConfigured), []string{"reply#3(200)"}},
	})
}

// DESIGN §6, row kill; finalize runs once.
func TestLifecycle_KillTearsDownFinalizesAndDies(t *testing.T) {
	m := running(t, Settings{})
	run(t, m, []step{
		{req(2, v1.Task_TASK_KILL, ""), []string{"cb#4(tear_down)", "teardown#1(user,1m0s)"}},
		{req(3, v1.Task_TASK_ON, clusterA), nil}, // queued behind the kill
		{tornDown(1), []string{"cancel#4"}},
		{done(4, cbTearDown), []string{"cb#5(finalize)"}},
		{done(5, cbFinalize), []string{"reply#2(200)", "reply#3(410)"}},
		{req(4, v1.Task_TASK_KILL, ""), []string{"reply#4(410)"}},
		{req(5, v1.Task_TASK_CHECK, clusterA), []string{"reply#5(410)"}},
	})
	st := m.Status()
	if st.GetProcess() != v1.ProcessState_PROCESS_STATE_DEAD || st.GetExitCode() != 143 {
		t.Fatalf("status %v: want dead with the torn-down process's status", st)
	}
}

func TestLifecycle_UnknownTaskIs400(t *testing.T) {
	m := newTestMachine(Settings{}, every)
	run(t, m, []step{
		{req(1, v1.Task_TASK_UNSPECIFIED, ""), []string{"reply#1(400)"}},
		{req(2, v1.Task(42), ""), []string{"reply#2(400)"}},
	})
}

// Non-strict (the default): a running process is reconfigured only when its dependencies changed.
func TestLifecycle_OnRestartsOnlyWhenDependenciesChanged(t *testing.T) {
	m := running(t, Settings{})
	run(t, m, []step{
		{on(2, clusterB), []string{"reply#2(200)"}}, // more pods, same dependencies: nothing to do
		{on(3, ""), []string{"reply#3(200)"}},       // no cluster: nothing to do
		{on(4, clusterC), []string{"cb#4(tear_down)", "teardown#1(user,1m0s)"}},
		{done(4, cbTearDown), nil},
		// initialize ran once already: straight to configure.
		{tornDown(1), []string{"cb#5(configure)"}},
		{configured(5, "app", "--y"), []string{"start#2(app --y)"}},
		// A new schedule of checks: the tear-down ended the first one.
		{started(2, 101), []string{"reply#4(200)", "timer#3(check,1m0s)", "cb#6(sanity_check)"}},
	})
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_RUNNING, 101, 2)
}

func TestLifecycle_StrictOnRestartsOnEveryConfiguration(t *testing.T) {
	m := running(t, Settings{Strict: true})
	run(t, m, []step{
		{on(2, clusterA), []string{"cb#4(tear_down)", "teardown#1(user,1m0s)"}},
		{tornDown(1), []string{"cancel#4"}},
		{done(4, cbTearDown), []string{"cb#5(configure)"}},
		{configured(5, "app"), []string{"start#2(app)"}},
		{started(2, 101), []string{"reply#2(200)", "timer#3(check,1m0s)", "cb#6(sanity_check)"}},
		{done(6, cbSanityCheck), nil},
		{on(3, ""), []string{"reply#3(200)"}}, // strict, but no cluster: nothing to reconfigure
	})
}

// ochopod_start=false: configurations do not start the process until an on without a body.
func TestLifecycle_DeferredStart(t *testing.T) {
	m := newTestMachine(Settings{DeferStart: true}, Implements{})
	run(t, m, []step{
		{on(1, clusterA), []string{"cb#1(configure)"}},
		{configured(1, "app"), []string{"reply#1(200)"}},
		{on(2, clusterB), []string{"cb#2(configure)"}}, // not running: configures again, still no start
		{configured(2, "app", "-b"), []string{"reply#2(200)"}},
		{on(3, ""), []string{"start#1(app -b)"}}, // the last configuration
		{started(1, 100), []string{"reply#3(200)", "timer#1(check,1m0s)"}},
		// Once it ran, a configuration that restarts it starts it.
		{on(4, clusterC), []string{"teardown#1(term,1m0s)"}},
		{tornDown(1), []string{"cb#3(configure)"}},
		{configured(3, "app", "-c"), []string{"start#2(app -c)"}},
	})
}

func TestLifecycle_InitializeRunsOnceAndOnlyBeforeAStart(t *testing.T) {
	m := running(t, Settings{})
	run(t, m, []step{
		{req(2, v1.Task_TASK_OFF, ""), []string{"cb#4(tear_down)", "teardown#1(user,1m0s)"}},
		{tornDown(1), []string{"cancel#4"}},
		{done(4, cbTearDown), []string{"reply#2(200)"}},
		{on(3, clusterA), []string{"cb#5(configure)"}}, // no second initialize
	})
}

func TestLifecycle_OnBeforeAnyConfigurationIs406AndThePodLives(t *testing.T) {
	m := newTestMachine(Settings{}, every)
	run(t, m, []step{
		{on(1, ""), []string{"cb#1(initialize)"}},
		{done(1, cbInitialize), []string{"reply#1(406)"}},
		{on(2, `{"pods":{}}`), []string{"reply#2(406)"}}, // not a cluster: the caller's error
		{on(4, `{"pods":`), []string{"reply#4(400)"}},    // not JSON at all: a bad request
		{on(3, clusterA), []string{"cb#2(configure)"}},   // initialized already
	})
	if m.Dead() {
		t.Fatal("the pod died of a caller's error")
	}
}

// DESIGN §6: 406 if configure failed, and the pod then dies.
func TestLifecycle_FailedConfigureIs406AndThePodDies(t *testing.T) {
	for _, tc := range []struct {
		name string
		done *v1.CallbackDone
	}{
		{"error", failed(2, cbConfigure, "no disk")},
		{"no command", configured(2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMachine(Settings{}, every)
			run(t, m, []step{
				{on(1, clusterA), []string{"cb#1(initialize)"}},
				{req(2, v1.Task_TASK_CHECK, clusterA), nil}, // waits behind the on, then behind the death
				{done(1, cbInitialize), []string{"cb#2(configure)"}},
				{tc.done, []string{"reply#1(406)", "cb#3(finalize)"}},
				{done(3, cbFinalize), []string{"reply#2(410)"}},
			})
			if st := m.Status(); st.GetProcess() != v1.ProcessState_PROCESS_STATE_DEAD || st.GetExitCode() != 1 {
				t.Fatalf("status %v: want dead with exit code 1", st)
			}
		})
	}
}

func TestLifecycle_FailedInitializeOrStartKillsThePod(t *testing.T) {
	m := newTestMachine(Settings{}, every)
	run(t, m, []step{
		{on(1, clusterA), []string{"cb#1(initialize)"}},
		{failed(1, cbInitialize, "no volume"), []string{"reply#1(406)", "cb#2(finalize)"}},
	})
	m = newTestMachine(Settings{}, Implements{})
	run(t, m, []step{
		{on(1, clusterA), []string{"cb#1(configure)"}},
		{configured(1, "nope"), []string{"start#1(nope)"}},
		{&v1.ExecStarted{Incarnation: 1, Failure: protocol.Other("exec: not found")}, []string{"reply#1(406)"}},
	})
	if !m.Dead() {
		t.Fatal("a command that cannot start left the pod alive")
	}
}

// DESIGN §6: exit code 0 means the work is done: the pod dies, then answers 410.
func TestLifecycle_ExitZeroKillsThePod(t *testing.T) {
	m := running(t, Settings{})
	run(t, m, []step{
		{req(2, v1.Task_TASK_OK, clusterA), []string{"cb#4(configured)"}},
		{exited(1, 0), nil}, // the running request finishes first
		{done(4, cbConfigured), []string{"reply#2(200)", "cb#5(finalize)"}},
		{done(5, cbFinalize), nil},
		{on(3, clusterA), []string{"reply#3(410)"}},
	})
	st := m.Status()
	if st.GetProcess() != v1.ProcessState_PROCESS_STATE_DEAD || st.GetExitCode() != 0 || st.GetPid() != 0 {
		t.Fatalf("status %v: want dead with exit code 0", st)
	}
}

// DESIGN §6: a non-zero exit restarts the process with the last configuration and counts a failure;
// consecutive crashes back off, the first restart is immediate.
func TestLifecycle_CrashRestartsWithTheSameCommandAndBacksOff(t *testing.T) {
	m := running(t, Settings{Checks: 10, RestartBackoff: backoffPolicy})
	run(t, m, []step{
		{exited(1, 3), []string{"start#2(app --x)"}}, // no configure, at once
		// A restart keeps the schedule of checks: no new timer.
		{started(2, 101), nil},
		{exited(2, 3), []string{"timer#4(restart,1s)"}},
	})
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_BACKOFF, 0, 2) // DESIGN §13: /info reads backoff
	run(t, m, []step{
		{fired(timerRestart, 3), nil}, // stale generation
		{fired(timerRestart, 4), []string{"start#3(app --x)"}},
		{started(3, 102), nil},
		{exited(3, 3), []string{"timer#6(restart,2s)"}},
		// The check comes on schedule while the process waits for its restart, and fails (1 of 10).
		{fired(timerCheck, 1), []string{"timer#1(check,1m0s)"}},
		{fired(timerRestart, 6), []string{"start#4(app --x)"}},
		{started(4, 103), nil},
		// A passed check forgets the crashes: the next restart is immediate again.
		{fired(timerCheck, 1), []string{"timer#1(check,1m0s)", "cb#4(sanity_check)"}},
		{done(4, cbSanityCheck), nil},
		{exited(4, 3), []string{"start#5(app --x)"}},
	})
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_STOPPED, 0, 4)
	st := m.Status()
	if st.GetRestarts() != 3 || st.GetExits() != 4 || st.GetLastExit().GetCode() != 3 || st.GetChecksFailed() != 1 || st.GetChecksPassed() != 2 {
		t.Fatalf("status %v: want 3 restarts, 4 exits (last code 3), checks 2 passed and 1 failed", st)
	}
}

// DESIGN §6, §13: a process that crashes at once, again and again, uses its checks up on schedule (the checks
// run while it is down) and the pod turns itself off; nothing restarts it after.
func TestLifecycle_CrashLoopUsesTheChecksUpWhileDown(t *testing.T) {
	m := running(t, Settings{Checks: 3, RestartBackoff: backoffPolicy})
	run(t, m, []step{
		{exited(1, 3), []string{"start#2(app --x)"}},
		{started(2, 101), nil},
		{exited(2, 3), []string{"timer#4(restart,1s)"}},
		{fired(timerCheck, 1), []string{"timer#1(check,1m0s)"}}, // 1 of 3, in backoff
		// No crash since the last check, but still down waiting for the restart: no better (2 of 3).
		{fired(timerCheck, 1), []string{"timer#1(check,1m0s)"}},
		{fired(timerRestart, 4), []string{"start#3(app --x)"}},
		{started(3, 102), nil},
		{exited(3, 3), []string{"timer#6(restart,2s)"}},
		{fired(timerCheck, 1), []string{"timer#1(check,1m0s)"}}, // 3 of 3: off, the restart is cancelled
		{fired(timerRestart, 6), nil},
		{fired(timerCheck, 1), nil}, // the schedule ended with the off
	})
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_STOPPED, 0, 3)
	if m.Dead() {
		t.Fatal("turned off is not dead")
	}
}

// --check-start: after a configured start the first check waits for the start period.
func TestLifecycle_CheckStartDelaysTheFirstCheck(t *testing.T) {
	m := newTestMachine(Settings{CheckStart: 5 * time.Second, CheckEvery: time.Minute}, every)
	run(t, m, []step{
		{on(1, clusterA), []string{"cb#1(initialize)"}},
		{done(1, cbInitialize), []string{"cb#2(configure)"}},
		{configured(2, "app"), []string{"start#1(app)"}},
		{started(1, 100), []string{"timer#1(check,5s)", "reply#1(200)"}},
		{fired(timerCheck, 1), []string{"timer#1(check,1m0s)", "cb#3(sanity_check)"}},
	})
	if m.Status().GetConfigured() != true {
		t.Fatal("a configured pod reads configured false")
	}
}

// off cancels a pending restart.
func TestLifecycle_OffCancelsAPendingRestart(t *testing.T) {
	m := running(t, Settings{Checks: 10, RestartBackoff: backoffPolicy})
	run(t, m, []step{
		{exited(1, 3), []string{"start#2(app --x)"}},
		{started(2, 101), nil},
		{exited(2, 3), []string{"timer#4(restart,1s)"}},
		{req(2, v1.Task_TASK_OFF, ""), []string{"reply#2(200)"}},
		{fired(timerRestart, 4), nil},
	})
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_STOPPED, 0, 2)
}

// With the budget of one check (DESIGN §6's default, the original's), a crash restarts the process at once
// and it runs; the next check on schedule fails for the crash and turns the pod off. (ochopod run defaults
// --checks to 3, so that a single crash costs one check only: README.)
func TestLifecycle_CrashThenFailedCheckTurnsThePodOff(t *testing.T) {
	m := running(t, Settings{})
	run(t, m, []step{
		{exited(1, 1), []string{"start#2(app --x)"}},
		{started(2, 101), nil},
		{fired(timerCheck, 1), []string{"timer#1(check,1m0s)", "cb#4(tear_down)", "teardown#2(user,1m0s)"}},
		{tornDown(2), []string{"cancel#4"}},
		{done(4, cbTearDown), nil},
	})
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_STOPPED, 0, 2)
	if m.Dead() {
		t.Fatal("turned off is not dead")
	}
}

// DESIGN §6: a failed check costs one of checks; at zero the pod turns itself off and the budget resets.
func TestLifecycle_SanityCheckBudgetTurnsThePodOff(t *testing.T) {
	m := running(t, Settings{Checks: 2})
	run(t, m, []step{
		{fired(timerCheck, 1), []string{"timer#1(check,1m0s)", "cb#4(sanity_check)"}},
		{failed(4, cbSanityCheck, "slow"), nil}, // 1 of 2
		{fired(timerCheck, 1), []string{"timer#1(check,1m0s)", "cb#5(sanity_check)"}},
		{failed(5, cbSanityCheck, "slow"), []string{"cb#6(tear_down)", "teardown#1(user,1m0s)"}},
		{done(6, cbTearDown), nil},
		{tornDown(1), nil},
		{fired(timerCheck, 1), nil}, // nothing runs: no check
		// Alive: the next on starts it again, with a fresh budget.
		{on(2, ""), []string{"start#2(app --x)"}},
		{started(2, 101), []string{"reply#2(200)", "timer#4(check,1m0s)", "cb#7(sanity_check)"}},
		{failed(7, cbSanityCheck, "slow"), nil}, // 1 of 2 again
	})
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_RUNNING, 101, 2)
}

func TestLifecycle_PassedCheckResetsTheBudgetAndKeepsTheMetrics(t *testing.T) {
	m := running(t, Settings{Checks: 2})
	run(t, m, []step{
		{fired(timerCheck, 1), []string{"timer#1(check,1m0s)", "cb#4(sanity_check)"}},
		{failed(4, cbSanityCheck, "slow"), nil},
		{fired(timerCheck, 1), []string{"timer#1(check,1m0s)", "cb#5(sanity_check)"}},
		{&v1.CallbackDone{Epoch: 5, Callback: cbSanityCheck, Result: []byte(`{"qps":7}`)}, nil},
		{fired(timerCheck, 1), []string{"timer#1(check,1m0s)", "cb#6(sanity_check)"}},
		{failed(6, cbSanityCheck, "slow"), nil}, // 1 of 2: the pass reset the budget
	})
	if got := string(m.Status().GetMetrics()); got != `{"qps":7}` {
		t.Fatalf("metrics %s", got)
	}
}

// Checks wait for requests and never overlap a callback; a check of a process that is gone is dropped.
func TestLifecycle_ChecksWaitForRequests(t *testing.T) {
	m := running(t, Settings{Checks: 3})
	run(t, m, []step{
		{req(2, v1.Task_TASK_OK, clusterA), []string{"cb#4(configured)"}},
		{fired(timerCheck, 1), nil}, // due, but a request runs
		{done(4, cbConfigured), []string{"reply#2(200)", "timer#1(check,1m0s)", "cb#5(sanity_check)"}},
		{exited(1, 9), nil}, // the restart waits for the check's callback
		{failed(5, cbSanityCheck, "connection refused"), []string{"start#2(app --x)"}},
	})
	if m.checksLeft != 3 {
		t.Fatalf("a check of a dead process cost %d checks", 3-m.checksLeft)
	}
}

func TestLifecycle_StaleCompletionsAreDropped(t *testing.T) {
	m := running(t, Settings{Checks: 3})
	run(t, m, []step{
		{done(2, cbConfigure), nil},                             // an old epoch
		{&v1.CallbackDone{Epoch: 3, Callback: cbFinalize}, nil}, // nothing in flight
		{started(1, 999), nil},                                  // already started
		{exited(7, 1), nil},                                     // another incarnation
		{fired(timerCheck, 7), nil},                             // another incarnation's check
		{fired(v1.Timer_TIMER_PROBE, 1), nil},
	})
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_RUNNING, 100, 1)
	run(t, m, []step{
		{req(2, v1.Task_TASK_OK, clusterA), []string{"cb#4(configured)"}},
		{done(4, cbSignaled), nil}, // the right epoch, the wrong callback
		{done(4, cbConfigured), []string{"reply#2(200)"}},
	})
}

// DESIGN §6: requests are queued and run one at a time, in order.
func TestLifecycle_RequestsRunOneAtATimeInOrder(t *testing.T) {
	m := newTestMachine(Settings{}, every)
	run(t, m, []step{
		{on(1, clusterA), []string{"cb#1(initialize)"}},
		{req(2, v1.Task_TASK_CHECK, clusterA), nil},
		{req(3, v1.Task_TASK_OK, clusterA), nil},
		{req(4, v1.Task_TASK_UNSPECIFIED, ""), []string{"reply#4(400)"}}, // never queued
		{done(1, cbInitialize), []string{"cb#2(configure)"}},
		{configured(2, "app"), []string{"start#1(app)"}},
		{started(1, 100), []string{"reply#1(200)", "cb#3(can_configure)"}},
		{done(3, cbCanConfigure), []string{"reply#2(200)", "cb#4(configured)"}},
		// The first sanity check waited for the queue.
		{done(4, cbConfigured), []string{"reply#3(200)", "timer#1(check,1m0s)", "cb#5(sanity_check)"}},
		{req(5, v1.Task_TASK_OFF, ""), nil}, // waits for the check's callback
		{done(5, cbSanityCheck), []string{"cb#6(tear_down)", "teardown#1(user,1m0s)"}},
	})
}

func TestLifecycle_StatusIsPublishedOnChangeOnly(t *testing.T) {
	m := newTestMachine(Settings{}, Implements{})
	first := m.Start()
	if len(first) != 1 {
		t.Fatalf("start: %v, want the first status", first)
	}
	count := func(effects []Effect) int {
		n := 0
		for _, e := range effects {
			if _, ok := e.(Publish); ok {
				n++
			}
		}
		return n
	}
	for i, tc := range []struct {
		in   any
		want int
	}{
		{on(1, clusterA), 0},
		{configured(1, "app"), 1}, // the dependencies of the new configuration
		{started(1, 100), 1},
		{req(2, v1.Task_TASK_CHECK, clusterA), 0},
		{exited(1, 2), 1},
	} {
		if got := count(m.Handle(input(tc.in))); got != tc.want {
			t.Fatalf("step %d: %d publications, want %d", i, got, tc.want)
		}
	}
}

// A restart that comes due behind a configuration that starts the process is dropped: one process only.
func TestLifecycle_RestartOvertakenByAConfigurationIsDropped(t *testing.T) {
	m := running(t, Settings{Checks: 10, RestartBackoff: backoffPolicy})
	run(t, m, []step{
		{exited(1, 3), []string{"start#2(app --x)"}},
		{started(2, 101), nil},
		{exited(2, 3), []string{"timer#4(restart,1s)"}},
		{req(2, v1.Task_TASK_OK, clusterA), []string{"cb#4(configured)"}},
		{on(3, clusterC), nil},
		{fired(timerRestart, 4), nil}, // queued behind the on
		{done(4, cbConfigured), []string{"reply#2(200)", "cb#5(configure)"}},
		{configured(5, "app", "--c"), []string{"start#3(app --c)"}},
		{started(3, 102), []string{"reply#3(200)", "timer#2(check,1m0s)"}}, // the restart is gone
	})
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_RUNNING, 102, 3)
}

// The executor answers a tear-down that crosses an exit twice: the exit, then ExecExited{torn_down, pid 0}.
// The first ends the tear-down, the second is dropped.
func TestLifecycle_TearDownCrossingAnExitIsAnsweredOnce(t *testing.T) {
	m := newTestMachine(Settings{}, Implements{})
	run(t, m, []step{
		{on(1, clusterA), []string{"cb#1(configure)"}},
		{configured(1, "app"), []string{"start#1(app)"}},
		{started(1, 100), []string{"reply#1(200)", "timer#1(check,1m0s)"}},
		{req(2, v1.Task_TASK_OFF, ""), []string{"teardown#1(term,1m0s)"}},
		{exited(1, 0), []string{"reply#2(200)"}}, // exit 0 while torn down: not the end of the pod
		{&v1.ExecExited{Incarnation: 1, TornDown: true}, nil},
		{on(3, ""), []string{"start#2(app)"}},
	})
	if m.Dead() {
		t.Fatal("an exit during a tear-down killed the pod")
	}
}

// The original's "if data.js": no body, null and {} are none; anything else is a body, parsed or refused later.
func TestLifecycle_HasBody(t *testing.T) {
	for body, want := range map[string]bool{
		"": false, "  ": false, "null": false, "{}": false, " { \n } ": false,
		clusterA: true, `{"pods":`: true, "{}x": true, "[]": true, "42": true, `"{}"`: true,
	} {
		if got := hasBody([]byte(body)); got != want {
			t.Errorf("hasBody(%q) = %v, want %v", body, got, want)
		}
	}
}

// check, on and ok of one phase carry the same body, parsed once; yet every callback gets a cluster of its
// own, so one that mutates what it was given changes neither the machine's view nor the next callback's.
func TestLifecycle_EveryCallbackGetsAClusterOfItsOwn(t *testing.T) {
	m := newTestMachine(Settings{}, every)
	var seen []*RunCallback
	handle := func(in any) {
		for _, e := range m.Handle(input(in)) {
			if cb, ok := e.(RunCallback); ok && cb.Cluster != nil {
				seen = append(seen, &cb)
				if ip := cb.Cluster.Pods[0].Payload.String("ip"); ip != "10.0.0.1" {
					t.Fatalf("%s got a cluster a previous callback mutated: ip %q", cb.Name, ip)
				}
				cb.Cluster.Pods[0].Payload["ip"] = "mutated"
				cb.Cluster.Dependencies["ns.db"][0].Payload["ip"] = "mutated"
			}
		}
	}
	handle(req(1, v1.Task_TASK_CHECK, clusterA))
	handle(done(1, cbCanConfigure))
	handle(on(2, clusterA))
	handle(done(2, cbInitialize))
	handle(done(3, cbConfigure)) // no command: the pod dies, but the callbacks were all issued
	if len(seen) != 2 {
		t.Fatalf("callbacks with a cluster: %d, want can_configure and configure", len(seen))
	}
	kept, err := m.opened.env.Cluster()
	if err != nil {
		t.Fatal(err)
	}
	if ip := kept.Pods[0].Payload.String("ip"); ip != "10.0.0.1" {
		t.Fatalf("the machine's parsed cluster was mutated through a callback: ip %q", ip)
	}
	if ip := kept.Dependencies["ns.db"][0].Payload.String("ip"); ip != "10.0.1.1" {
		t.Fatalf("the machine's dependencies were mutated through a callback: ip %q", ip)
	}
}

// The control server lends a request's body (control.Backend) and reads the next request into the same
// buffer: the machine keeps a copy, so the phase's on still finds the cluster its check opened.
func TestLifecycle_KeepsACopyOfTheLentBody(t *testing.T) {
	m := newTestMachine(Settings{}, every)
	check := req(1, v1.Task_TASK_CHECK, clusterA)
	m.Handle(input(check))
	opened := m.opened.env
	copy(check.Request.Body, bytes.Repeat([]byte("x"), len(check.Request.Body))) // the server's next request
	m.Handle(input(done(1, cbCanConfigure)))
	m.Handle(input(on(2, clusterA)))
	if m.opened.env != opened {
		t.Fatal("on opened the cluster again: the machine kept the lent body instead of a copy")
	}
}

// A lifecycle blind to the cluster (sdk.ClusterBlind, as sdk.Exec) gets configure without one: the payloads
// are never parsed; the start still carries the envelope, for the OCHOPOD_* variables.
func TestLifecycle_ClusterBlindConfigureGetsNoCluster(t *testing.T) {
	for _, blind := range []bool{false, true} {
		m := newTestMachine(Settings{}, Implements{IgnoresCluster: blind})
		effects := m.Handle(input(on(1, clusterA)))
		cb, ok := effects[0].(RunCallback)
		if !ok || cb.Name != cbConfigure || (cb.Cluster == nil) != blind {
			t.Fatalf("blind %v: effects %q, cluster %v", blind, kinds(effects), cb.Cluster)
		}
		s, ok := m.Handle(input(configured(1, "app")))[0].(StartProcess)
		if !ok || s.Envelope == nil || s.Envelope.Key() != "k1" {
			t.Fatalf("blind %v: start %+v", blind, s)
		}
	}
}

// A phase's off, on and ok are refused (409) once a check of another phase ran: a dead or deposed leader's
// request, delivered after the new leader's check, must not undo its configuration. Requests without a phase
// (an operator, a leader of the original) are run as before.
func TestLifecycle_RequestsOfAStalePhaseAreRefused(t *testing.T) {
	at := func(h uint64, task v1.Task, phase string) *v1.Queued {
		r := req(h, task, clusterA)
		r.Request.Phase = phase
		return r
	}
	m := running(t, Settings{})
	run(t, m, []step{
		{at(10, v1.Task_TASK_CHECK, "old.1"), []string{"cb#4(can_configure)"}},
		{done(4, cbCanConfigure), []string{"reply#10(200)"}},
		{at(11, v1.Task_TASK_CHECK, "new.1"), []string{"cb#5(can_configure)"}},
		{done(5, cbCanConfigure), []string{"reply#11(200)"}},
		{at(12, v1.Task_TASK_ON, "old.1"), []string{"reply#12(409)"}}, // late: the process keeps running
		{at(13, v1.Task_TASK_OFF, "old.1"), []string{"reply#13(409)"}},
		{at(14, v1.Task_TASK_OK, "old.1"), []string{"reply#14(409)"}},
		{at(15, v1.Task_TASK_ON, "new.1"), []string{"reply#15(200)"}},
		{at(16, v1.Task_TASK_OK, "new.1"), []string{"cb#6(configured)"}},
		{done(6, cbConfigured), []string{"reply#16(200)"}},
		{at(17, v1.Task_TASK_ON, ""), []string{"reply#17(200)"}}, // no phase: run
		{at(18, v1.Task_TASK_CHECK, ""), []string{"cb#7(can_configure)"}},
		{done(7, cbCanConfigure), []string{"reply#18(200)"}},
		{at(19, v1.Task_TASK_ON, "new.1"), []string{"reply#19(409)"}}, // a check without a phase came since
	})
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_RUNNING, 100, 1)
}

// input is msg as the machine's input (nil, which the machine ignores, when it is none).
func input(msg any) *v1.LifecycleInput { return protocol.Input[*v1.LifecycleInput](msg) }

// DESIGN §13: a signal the pod received goes to the running or terminating process at once, even while a
// request waits on a callback; without a process it is dropped.
func TestLifecycle_ForwardedSignalsReachTheProcess(t *testing.T) {
	m := running(t, Settings{})
	hup := &v1.ForwardSignal{Signal: 1}
	run(t, m, []step{
		{req(2, v1.Task_TASK_OK, clusterA), []string{"cb#4(configured)"}},
		{hup, []string{"signal#1(1)"}},
		{done(4, cbConfigured), []string{"reply#2(200)"}},
		{req(3, v1.Task_TASK_OFF, ""), []string{"cb#5(tear_down)", "teardown#1(user,1m0s)"}},
		{&v1.ForwardSignal{Signal: 9}, []string{"signal#1(9)"}}, // a second SIGTERM: skip the grace
		{tornDown(1), []string{"cancel#5"}},
		{done(5, cbTearDown), []string{"reply#3(200)"}},
		{hup, nil},
	})
}
