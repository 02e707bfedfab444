package executor_test

import (
	"syscall"
	"testing"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/testkit/fakeproc"
)

// A crash of the executor kills the process it runs and reports it exited (killed), so the lifecycle
// restarts it as after any crash; before, the new incarnation had forgotten it, and the lifecycle's next
// start ran a second process beside it (testkit/sim: invariant (e)).
func TestExecutorActor_ACrashKillsItsProcessAndReportsIt(t *testing.T) {
	h, sp, _ := fakeHarness(t)
	h.send(&v1.ExecStart{Incarnation: 1, Argv: []string{"app"}})
	h.running(1)
	p := sp.Last()
	h.send(&v1.InjectCrash{Reason: "test"})
	x := h.exited(1)
	if x.GetPid() != fakeproc.FirstPid || !x.GetKilled() || x.GetSignal() != int32(syscall.SIGKILL) || p.Running() {
		t.Fatalf("after the crash: exited %v, process running %v", x, p.Running())
	}
	// The restarted executor takes the next incarnation: one process at a time.
	h.send(&v1.ExecStart{Incarnation: 2, Argv: []string{"app"}})
	h.running(2)
	if n := len(sp.Running()); n != 1 {
		t.Fatalf("%d processes run", n)
	}
}

// An idle executor's crash reports nothing.
func TestExecutorActor_AnIdleCrashReportsNothing(t *testing.T) {
	h, _, _ := fakeHarness(t)
	h.send(&v1.InjectCrash{Reason: "test"})
	h.sync()
	h.quiet()
}

// On real processes: a crash of the executor leaves nothing of the process group, not even a zombie, and the
// restarted executor runs the next incarnation alone.
func TestIntegration_ACrashLeavesNothingOfTheGroup(t *testing.T) {
	h := realHarness(t)
	pid := h.shell(1, `sleep 100 & echo ready; wait`)
	h.send(&v1.InjectCrash{Reason: "test"})
	if x := h.exited(1); !x.GetKilled() || x.GetPid() != int64(pid) {
		t.Fatalf("exited %v", x)
	}
	gone(t, pid)
	next := h.shell(2, `echo ready; sleep 100`)
	h.send(tearDown(2, true, time.Second, false))
	h.exited(2)
	gone(t, next)
}
