package lifecycle

import (
	"testing"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// phased is a request of phase (the leader's ?phase=), aside when a custom actor sent it.
func phased(h uint64, task v1.Task, body, phase string, aside bool) *v1.Queued {
	q := req(h, task, body)
	q.Request.Phase, q.Request.Aside = phase, aside
	return q
}

// announcing is running's machine with Announce on.
func announcing(t *testing.T) *Machine {
	t.Helper()
	m := running(t, Settings{})
	m.cfg.Announce = true
	return m
}

// DESIGN §4 "Custom actors": every pod's actors hear each configuration of the pod's cluster. The lifecycle
// announces it (Configured) as it answers the phase's ok (just before, see finish), once, with the phase;
// also when the user's configured() failed (500), since the leader writes the configuration whatever ok
// answers. An ok refused as stale (409), or whose body is no cluster, announces nothing; nor does a machine
// nobody listens to.
func TestLifecycle_AnnouncesEachConfigurationAtItsOK(t *testing.T) {
	m := announcing(t)
	run(t, m, []step{
		{phased(10, v1.Task_TASK_CHECK, clusterB, "L.1", false), []string{"cb#4(can_configure)"}},
		{done(4, cbCanConfigure), []string{"reply#10(200)"}},
		{phased(11, v1.Task_TASK_ON, clusterB, "L.1", false), []string{"reply#11(200)"}},
		{phased(12, v1.Task_TASK_OK, clusterB, "L.1", false), []string{"cb#5(configured)"}},
		{done(5, cbConfigured), []string{"configured(L.1)", "reply#12(200)"}},
		{phased(13, v1.Task_TASK_OK, clusterB, "L.0", false), []string{"reply#13(409)"}}, // a stale phase's
		{phased(14, v1.Task_TASK_CHECK, clusterA, "L.2", false), []string{"cb#6(can_configure)"}},
		{done(6, cbCanConfigure), []string{"reply#14(200)"}},
		{phased(15, v1.Task_TASK_OK, clusterA, "L.2", false), []string{"cb#7(configured)"}},
		{failed(7, cbConfigured, "boom"), []string{"configured(L.2)", "reply#15(500)"}},
		{phased(16, v1.Task_TASK_OK, `{"pods":{}}`, "L.2", false), []string{"reply#16(500)"}}, // no cluster
		{phased(17, v1.Task_TASK_OK, clusterA, "", true), []string{"cb#8(configured)"}},       // a custom actor's
		{done(8, cbConfigured), []string{"reply#17(200)"}},
		{req(18, v1.Task_TASK_OK, clusterA), []string{"cb#9(configured)"}}, // the original's leader names no phase
		{done(9, cbConfigured), []string{"configured()", "reply#18(200)"}},
	})
	quiet := running(t, Settings{})
	run(t, quiet, []step{
		{req(10, v1.Task_TASK_OK, clusterA), []string{"cb#4(configured)"}},
		{done(4, cbConfigured), []string{"reply#10(200)"}},
	})
}

// The announced cluster is the one the ok carried, whole, with its hash as the leader computes it over the
// same pods and dependencies (DESIGN §2).
func TestLifecycle_AnnouncedClusterIsTheOKsCluster(t *testing.T) {
	m := NewMachine(MachineConfig{Announce: true}) // no can_configure() nor configured(): answers at once
	m.Handle(input(phased(1, v1.Task_TASK_CHECK, clusterB, "L.3", false)))
	effects := m.Handle(input(phased(2, v1.Task_TASK_OK, clusterB, "L.3", false)))
	var got *Configured
	for _, e := range effects {
		if c, ok := e.(Configured); ok {
			got = &c
		}
	}
	if got == nil {
		t.Fatalf("effects %q: no Configured", kinds(effects))
	}
	msg, err := ClusterConfigured("ns.web", got.Envelope, got.Phase)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := sdk.OpenBody([]byte(clusterB))
	want, _ := env.Hash()
	if msg.GetCluster() != "ns.web" || msg.GetPhase() != "L.3" || msg.GetSource() != v1.ConfiguredSource_CONFIGURED_SOURCE_POD ||
		msg.GetHash() != want || len(msg.GetPods()) != 2 || string(msg.GetDependencies()["ns.db"]) != `{"d1":{"ip":"10.0.1.1"}}` {
		t.Fatalf("announced %v, want ns.web's two pods and ns.db of phase L.3, hash %s", msg, want)
	}
}

// A custom actor's check (aside) opens no phase: the leader's next off, on and ok of its phase still run, where
// a check from the control API without a phase (an operator, the original's leader) refuses them (409). An
// aside request naming a phase does not claim it either.
func TestLifecycle_ACustomActorsCheckDoesNotBreakThePhase(t *testing.T) {
	m := running(t, Settings{})
	run(t, m, []step{
		{phased(10, v1.Task_TASK_CHECK, clusterA, "L.1", false), []string{"cb#4(can_configure)"}},
		{done(4, cbCanConfigure), []string{"reply#10(200)"}},
		{phased(11, v1.Task_TASK_CHECK, clusterA, "", true), []string{"cb#5(can_configure)"}}, // the custom actor's
		{done(5, cbCanConfigure), []string{"reply#11(200)"}},
		{phased(12, v1.Task_TASK_CHECK, clusterA, "X.9", true), []string{"cb#6(can_configure)"}}, // its phase is ignored
		{done(6, cbCanConfigure), []string{"reply#12(200)"}},
		{phased(13, v1.Task_TASK_OFF, "", "L.1", false), []string{"cb#7(tear_down)", "teardown#1(user,1m0s)"}},
		{done(7, cbTearDown), nil},
		{tornDown(1), []string{"reply#13(200)"}},
		{phased(14, v1.Task_TASK_ON, clusterA, "X.9", true), []string{"cb#8(configure)"}}, // runs, as any request without a phase
		{configured(8, "app", "--x"), []string{"start#2(app --x)"}},
		{started(2, 101), []string{"reply#14(200)", "timer#4(check,1m0s)", "cb#9(sanity_check)"}},
		{&v1.CallbackDone{Epoch: 9, Callback: cbSanityCheck}, nil},
		{phased(15, v1.Task_TASK_OK, clusterA, "L.1", false), []string{"cb#10(configured)"}},
		{done(10, cbConfigured), []string{"reply#15(200)"}},
		{req(16, v1.Task_TASK_CHECK, clusterA), []string{"cb#11(can_configure)"}}, // not aside: a phase of the original
		{done(11, cbCanConfigure), []string{"reply#16(200)"}},
		{phased(17, v1.Task_TASK_OK, clusterA, "L.1", false), []string{"reply#17(409)"}},
	})
}
