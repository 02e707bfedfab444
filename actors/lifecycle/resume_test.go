package lifecycle_test

import (
	"slices"
	"testing"

	"github.com/ochopod/ochopod/actors/lifecycle"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// A crash of the lifecycle itself (not of its process) restarts it where it was: still configured, and its
// process (killed with the executor stopped under it) started again with the last configuration, under a newer
// incarnation. Before, the new incarnation started blank: the pod sat unconfigured until its cluster changed,
// and the next on started a second process beside the first (testkit/sim: invariant (e), the whole-tree crash).
func TestLifecycleActor_ACrashResumesItsConfiguration(t *testing.T) {
	h := start(t, &app{configure: serve}, lifecycle.Settings{Checks: 3})
	h.wantCode(v1.Task_TASK_ON, cluster, 200)
	first := h.nextStart()
	h.until("running", process(running, 1))
	h.system.Root.Send(h.pid, &v1.InjectCrash{Reason: "test"})
	again := h.nextStart()
	if again.GetIncarnation() <= first.GetIncarnation() || !slices.Equal(again.GetArgv(), first.GetArgv()) ||
		!slices.Equal(again.GetEnv(), first.GetEnv()) {
		t.Fatalf("after the crash: start %v, want the last configuration's under an incarnation after %d", again, first.GetIncarnation())
	}
	st := h.until("running again", process(running, 2))
	if !st.GetConfigured() || st.GetPid() != 1000+int64(again.GetIncarnation()) {
		t.Fatalf("status after the crash: %v", st)
	}
	// An on of the same cluster finds the process running: no second start.
	h.wantCode(v1.Task_TASK_ON, cluster, 200)
	select {
	case s := <-h.starts:
		t.Fatalf("a second start after the restart: %v", s)
	default:
	}
}

// A lifecycle that crashes while its pod is off stays off: nothing starts.
func TestLifecycleActor_ACrashWhileOffStartsNothing(t *testing.T) {
	h := start(t, &app{configure: serve}, lifecycle.Settings{Checks: 3})
	h.wantCode(v1.Task_TASK_ON, cluster, 200)
	h.nextStart()
	h.wantCode(v1.Task_TASK_OFF, "", 200)
	h.until("off", process(stopped, 1))
	h.system.Root.Send(h.pid, &v1.InjectCrash{Reason: "test"})
	st := h.until("restarted", func(st *v1.LifecycleStatus) bool { return st.GetConfigured() })
	if st.GetProcess() != stopped {
		t.Fatalf("after the crash: %v", st)
	}
	h.wantCode(v1.Task_TASK_ON, "", 200) // the last configuration again, as after any off
	if s := h.nextStart(); !slices.Equal(s.GetArgv(), []string{"serve", "--key", "k1"}) {
		t.Fatalf("start %v", s)
	}
}
