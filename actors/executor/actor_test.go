package executor_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ochopod/ochopod/actors/executor"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/protohost"
	"github.com/ochopod/ochopod/testkit/fakeproc"
	"github.com/ochopod/ochopod/testkit/vclock"
)

func fakeHarness(t *testing.T) (*harness, *fakeproc.Spawner, *vclock.Clock) {
	t.Helper()
	sp, clk := fakeproc.New(), vclock.New()
	return newHarness(t, executor.Config{Spawner: sp}, clk), sp, clk
}

func TestExecutorActor_StartsAndReportsTheExit(t *testing.T) {
	h, sp, _ := fakeHarness(t)
	h.send(&v1.ExecStart{Incarnation: 1, Argv: []string{"app", "-v"}, Cwd: "/srv", Env: []string{"A=1"}, Shell: true})
	if got := h.running(1).GetPid(); got != fakeproc.FirstPid {
		t.Fatalf("pid %d", got)
	}
	p := sp.Last()
	if spec := p.Spec(); !reflect.DeepEqual(spec.Argv, []string{"app", "-v"}) || spec.Dir != "/srv" || !spec.Shell ||
		!reflect.DeepEqual(spec.Env, []string{"A=1"}) {
		t.Fatalf("spec %+v", spec)
	}
	p.ExitWith(3)
	x := h.exited(1)
	if x.GetPid() != fakeproc.FirstPid || x.GetCode() != 3 || x.GetTornDown() || x.GetKilled() {
		t.Fatalf("exited %v", x)
	}
	h.quiet()
}

func TestExecutorActor_TearDownKillsAfterTheGrace(t *testing.T) {
	h, sp, clk := fakeHarness(t)
	sp.IgnoreSignals(syscall.SIGTERM)
	h.send(&v1.ExecStart{Incarnation: 1, Argv: []string{"stubborn"}})
	h.running(1)
	p := sp.Last()
	h.send(tearDown(1, true, 30*time.Second, false))
	h.sync()
	if got := p.Signals(); !reflect.DeepEqual(got, []syscall.Signal{syscall.SIGTERM}) {
		t.Fatalf("signals %v", got)
	}
	if n := clk.Advance(30*time.Second - time.Nanosecond); n != 0 {
		t.Fatalf("%d timers fired before the grace was over", n)
	}
	h.quiet()
	if n := clk.Advance(time.Nanosecond); n != 1 {
		t.Fatalf("%d timers fired at the end of the grace", n)
	}
	x := h.exited(1)
	if !x.GetTornDown() || !x.GetKilled() || x.GetSignal() != int32(syscall.SIGKILL) || x.GetCode() != 137 {
		t.Fatalf("exited %v", x)
	}
	h.sync()
	// TERM, the KILL after the grace, and the sweep of the group once the leader is gone.
	if got := p.Signals(); !reflect.DeepEqual(got, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL, syscall.SIGKILL}) {
		t.Fatalf("signals %v", got)
	}
}

func TestExecutorActor_TearDownWithinTheGraceStopsTheTimer(t *testing.T) {
	h, sp, clk := fakeHarness(t)
	h.send(&v1.ExecStart{Incarnation: 1, Argv: []string{"polite"}})
	h.running(1)
	h.send(tearDown(1, true, 30*time.Second, false))
	x := h.exited(1) // the fake dies of the SIGTERM
	if !x.GetTornDown() || x.GetKilled() || x.GetCode() != 143 {
		t.Fatalf("exited %v", x)
	}
	h.sync()
	if clk.Pending() != 0 {
		t.Fatalf("%d timers left", clk.Pending())
	}
	if got := sp.Last().Signals(); !reflect.DeepEqual(got, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}) {
		t.Fatalf("signals %v", got)
	}
}

func TestExecutorActor_SoftTearDownNeverKills(t *testing.T) {
	h, sp, clk := fakeHarness(t)
	sp.IgnoreSignals(syscall.SIGTERM)
	h.send(&v1.ExecStart{Incarnation: 1, Argv: []string{"stubborn"}})
	h.running(1)
	h.send(tearDown(1, true, 30*time.Second, true))
	h.sync()
	clk.Advance(time.Hour)
	h.quiet()
	p := sp.Last()
	if !p.Running() || !reflect.DeepEqual(p.Signals(), []syscall.Signal{syscall.SIGTERM}) {
		t.Fatalf("running %v signals %v", p.Running(), p.Signals())
	}
	p.ExitWith(0)
	if x := h.exited(1); !x.GetTornDown() || x.GetKilled() || x.GetCode() != 0 {
		t.Fatalf("exited %v", x)
	}
}

func TestExecutorActor_OneProcessAtATime(t *testing.T) {
	h, sp, _ := fakeHarness(t)
	h.send(&v1.ExecStart{Incarnation: 1, Argv: []string{"a"}})
	h.running(1)
	h.send(&v1.ExecStart{Incarnation: 2, Argv: []string{"b"}})
	if m := h.started(2); !strings.Contains(m.GetFailure().GetMessage(), "incarnation 1 is running") {
		t.Fatalf("second start: %v", m)
	}
	if n := len(sp.Processes()); n != 1 {
		t.Fatalf("%d processes spawned", n)
	}
	// The lifecycle's way: tear down, then start.
	h.send(tearDown(1, true, time.Second, false))
	h.exited(1)
	h.send(&v1.ExecStart{Incarnation: 2, Argv: []string{"b"}})
	h.running(2)
	if n := len(sp.Running()); n != 1 {
		t.Fatalf("%d processes running", n)
	}
}

func TestExecutorActor_SpawnFailureIsReported(t *testing.T) {
	h, sp, _ := fakeHarness(t)
	sp.FailNext(errors.New("no such program"))
	h.send(&v1.ExecStart{Incarnation: 1, Argv: []string{"nope"}})
	if m := h.started(1); m.GetFailure().GetMessage() != "no such program" || m.GetPid() != 0 {
		t.Fatalf("started %v", m)
	}
	h.send(tearDown(1, true, time.Second, false)) // nothing runs: answered at once
	if x := h.exited(1); !x.GetTornDown() || x.GetPid() != 0 {
		t.Fatalf("exited %v", x)
	}
}

func TestExecutorActor_ImmediateExitIsReportedAfterTheStart(t *testing.T) {
	h, sp, _ := fakeHarness(t)
	sp.OnSpawn(func(p *fakeproc.Process) { p.ExitWith(0) })
	for inc := uint64(1); inc <= 20; inc++ {
		h.send(&v1.ExecStart{Incarnation: inc, Argv: []string{"true"}})
		h.running(inc)
		if x := h.exited(inc); x.GetCode() != 0 || x.GetTornDown() {
			t.Fatalf("exited %v", x)
		}
	}
}

func TestExecutorActor_SignalsReachTheRunningIncarnationOnly(t *testing.T) {
	h, sp, _ := fakeHarness(t)
	sp.IgnoreSignals(syscall.SIGHUP)
	h.send(&v1.ExecStart{Incarnation: 1, Argv: []string{"app"}})
	h.running(1)
	h.send(&v1.ExecSignal{Incarnation: 1, Signal: int32(syscall.SIGHUP)})
	h.send(&v1.ExecSignal{Incarnation: 2, Signal: int32(syscall.SIGKILL)})
	h.quiet()
	if got := sp.Last().Signals(); !reflect.DeepEqual(got, []syscall.Signal{syscall.SIGHUP}) {
		t.Fatalf("signals %v", got)
	}
}

func TestExecutorActor_PipesOutputLineByLine(t *testing.T) {
	h, sp, _ := fakeHarness(t)
	h.send(&v1.ExecStart{Incarnation: 1, Argv: []string{"chatty"}, Pipe: true})
	h.running(1)
	p := sp.Last()
	p.Stdout("one\ntw")
	p.Stderr("err\n")
	p.Stdout("o\nthree")
	p.ExitWith(0)
	h.exited(1)
	if got, want := h.output.all(), []string{"one", "err", "two", "three"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
}

func TestExecutorActor_UnpipedOutputGoesToStdout(t *testing.T) {
	var out, errs syncBuffer
	sp := fakeproc.New()
	h := newHarness(t, executor.Config{Spawner: sp, Stdout: &out, Stderr: &errs}, vclock.New())
	h.send(&v1.ExecStart{Incarnation: 1, Argv: []string{"app"}})
	h.running(1)
	sp.Last().Stdout("to stdout\n")
	sp.Last().Stderr("to stderr\n")
	sp.Last().ExitWith(0)
	h.exited(1)
	if out.String() != "to stdout\n" || errs.String() != "to stderr\n" || len(h.output.all()) != 0 {
		t.Fatalf("stdout %q stderr %q log %q", out.String(), errs.String(), h.output.all())
	}
}

func TestExecutorActor_ReportsToReportTo(t *testing.T) {
	h, _, _ := fakeHarness(t) // for its actor system and its parent, used here as a plain probe
	exec := h.system.Root.Spawn(props(executor.Config{Spawner: fakeproc.New(), ReportTo: protohost.RefOf(h.parent)}, vclock.New()))
	defer func() { _ = h.system.Root.StopFuture(exec).Wait() }()
	h.exec = exec
	h.sender.Store(exec) // the probe checks the sender
	h.system.Root.Send(exec, &v1.ExecStart{Incarnation: 1, Argv: []string{"x"}})
	h.running(1)
}

// Stopping the executor while its process runs (the lifecycle tears it down first; a crash above it does not)
// SIGKILLs the process, so none outlives the actor that knows it, and leaves no goroutine behind.
func TestExecutorActor_StopKillsTheProcessAndLeavesNoGoroutine(t *testing.T) {
	sp, clk := fakeproc.New(), vclock.New()
	system := quietSystem()
	defer system.Shutdown()
	before := goleak.IgnoreCurrent()
	exec := system.Root.Spawn(props(executor.Config{Spawner: sp, ReportTo: protohost.RefOf(system.NewLocalPID("nobody"))}, clk))
	system.Root.Send(exec, &v1.ExecStart{Incarnation: 1, Argv: []string{"app"}})
	system.Root.Send(exec, tearDown(1, false, time.Minute, false))
	// Stop is a system message, handled before the mailbox's user messages: let those be handled first.
	if _, err := system.Root.RequestFuture(exec, barrier{}, waitLong).Result(); err != nil {
		t.Fatal(err)
	}
	if err := system.Root.StopFuture(exec).Wait(); err != nil {
		t.Fatal(err)
	}
	if p := sp.Last(); p == nil || p.Running() || !slices.Contains(p.Signals(), syscall.SIGKILL) {
		t.Fatal("the process did not start, or the stop did not kill it")
	}
	if clk.Pending() != 0 {
		t.Fatalf("%d timers left after the stop", clk.Pending())
	}
	goleak.VerifyNone(t, before,
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}
