package lifecycle

import (
	"testing"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// The pod's own decisions survive a crash of the lifecycle: a process that ended with 0 while a callback held
// the queue has the pod's death queued behind it; the next incarnation runs it (found by testkit/sim seed 754:
// before, the death was lost with the crash, the pod lingered registered as a leader and the next on started
// the finished work again).
func TestMachine_ResumeRunsThePodsOwnRequests(t *testing.T) {
	m := running(t, Settings{Checks: 3})
	run(t, m, []step{
		{req(2, v1.Task_TASK_CHECK, clusterA), []string{"cb#4(can_configure)"}}, // holds the queue
		{exited(1, 0), nil}, // the work is done: the pod's death waits behind the check
	})
	next := newTestMachine(Settings{Checks: 3}, every)
	if got := kinds(next.Resume(m)); len(got) != 1 || got[0] != "cb#5(finalize)" {
		t.Fatalf("resumed: effects %q, want the death's finalize", got)
	}
	run(t, next, []step{{done(5, cbFinalize), nil}})
	if !next.Dead() {
		t.Fatal("the resumed lifecycle did not die")
	}
}

// A process running when the lifecycle crashed starts again under a newer incarnation, with the last
// configuration; the check in flight (a caller's) is gone.
func TestMachine_ResumeRestartsTheProcess(t *testing.T) {
	m := running(t, Settings{Checks: 3})
	run(t, m, []step{{req(2, v1.Task_TASK_CHECK, clusterA), []string{"cb#4(can_configure)"}}})
	next := newTestMachine(Settings{Checks: 3}, every)
	if got := kinds(next.Resume(m)); len(got) != 1 || got[0] != "start#2(app --x)" {
		t.Fatalf("resumed: effects %q, want the restart", got)
	}
	run(t, next, []step{{started(2, 101), []string{"timer#1(check,1m0s)"}}}) // its checks begin anew
	wantStatus(t, next, v1.ProcessState_PROCESS_STATE_RUNNING, 101, 2)
}
