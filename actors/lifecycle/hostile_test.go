package lifecycle

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"weak"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// DESIGN §12: a body holding an invalid payload, its own pods' or a dependency's, is answered 400 before any
// callback runs, and the pod lives.
func TestLifecycle_InvalidPayloadIs400AndThePodLives(t *testing.T) {
	m := newTestMachine(Settings{}, every)
	run(t, m, []step{
		{on(1, `{"pods":{"k1":{"seq":"abc","ports":{"x":-1}}},"key":"k1"}`), []string{"reply#1(400)"}},
		{req(2, v1.Task_TASK_CHECK, `{"pods":{"k1":{"ip":"10.9.9.9\"; touch pwned; echo \""}},"key":"k1"}`), []string{"reply#2(400)"}},
		{req(3, v1.Task_TASK_OK, `{"pods":{"k1":{}},"dependencies":{"ns.db":{"d1":{"port":0}}},"key":"k1"}`), []string{"reply#3(400)"}},
		{on(4, clusterA), []string{"cb#1(initialize)"}},
	})
	if m.Dead() {
		t.Fatal("the pod died of a caller's bad payload")
	}
}

// A configure that fails on the request's data (sdk.ErrBadCluster: a template that cannot render it) answers
// 400 and the pod lives, unlike any other failed configure (DESIGN §6).
func TestLifecycle_ConfigureFailedOnTheClusterIs400AndThePodLives(t *testing.T) {
	m := newTestMachine(Settings{}, every)
	bad := failed(2, cbConfigure, "pod.yaml:7: command: port: the pod does not expose port 8080")
	bad.BadCluster = true
	run(t, m, []step{
		{on(1, clusterA), []string{"cb#1(initialize)"}},
		{done(1, cbInitialize), []string{"cb#2(configure)"}},
		{bad, []string{"reply#1(400)"}},
		{on(2, clusterA), []string{"cb#3(configure)"}},
	})
	if m.Dead() {
		t.Fatal("the pod died of data it could not render")
	}
}

// DESIGN §12: a spawn that fails for want of resources (E2BIG, EMFILE) is tried again after a backoff, and
// the pod lives; the on that configured it is answered 200.
func TestLifecycle_SpawnWithoutResourcesIsRetriedNotADeath(t *testing.T) {
	m := newTestMachine(Settings{}, Implements{})
	run(t, m, []step{
		{on(1, clusterA), []string{"cb#1(configure)"}},
		{configured(1, "server"), []string{"start#1(server)"}},
		{&v1.ExecStarted{Incarnation: 1, Failure: protocol.Other("proc: spawn: argument list too long"), Resources: true}, []string{"timer#2(restart,1s)", "reply#1(200)"}},
		{fired(timerRestart, 2), []string{"start#2(server)"}},
		{&v1.ExecStarted{Incarnation: 2, Failure: protocol.Other("proc: spawn: too many open files"), Resources: true}, []string{"timer#4(restart,2s)"}},
		{fired(timerRestart, 4), []string{"start#3(server)"}},
		{started(3, 100), []string{"timer#1(check,1m0s)"}}, // the checks begin, one period later
	})
	if m.Dead() {
		t.Fatal("the pod died of a spawn without resources")
	}
	wantStatus(t, m, v1.ProcessState_PROCESS_STATE_RUNNING, 100, 1)
}

// FuzzControlBody: whatever body check, on or ok carries, the pod answers it (400 or 406 for what it cannot
// read: DESIGN §12) or goes on to a callback; it never panics and never dies of a body. A running pod's on
// answers or tears down: never more.
func FuzzControlBody(f *testing.F) {
	for _, s := range []string{clusterA, clusterB, `{"pods":{"k1":{"seq":"abc","ports":{"x":-1}}},"key":"k1"}`,
		`{"pods":{"k1":{"ip":"10.9.9.9\"; touch pwned; echo \""}},"key":"k1"}`, `{"pods":`, `null`, `{}`, `[]`,
		`{"pods":{"k1":{}},"dependencies":{"d":{"x":{"port":70000}}},"key":"k1"}`, "\xff", `{"key":"k1","pods":{"k1":null}}`} {
		f.Add([]byte(s), uint8(0))
	}
	tasks := []v1.Task{v1.Task_TASK_CHECK, v1.Task_TASK_ON, v1.Task_TASK_OK, v1.Task_TASK_SIGNAL, v1.Task_TASK_OFF}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		task := tasks[int(which)%len(tasks)]
		for _, impl := range []Implements{every, {}} {
			m := newTestMachine(Settings{}, impl)
			got := kinds(m.Handle(input(&v1.Queued{Handle: 1, Request: &v1.ControlRequest{Task: task, Body: body}})))
			if m.Dead() {
				t.Fatalf("%v of %q killed the pod: %q", task, body, got)
			}
			for _, k := range got {
				if strings.HasPrefix(k, "reply#1(") && !slices.Contains([]string{"reply#1(200)", "reply#1(400)", "reply#1(406)", "reply#1(500)"}, k) {
					t.Fatalf("%v of %q: %s", task, body, k)
				}
			}
		}
	})
}

// DESIGN §12, memory bounded by the body: once a request is answered the machine holds nothing of its body
// (the control server's buffer, 1 MiB at most), only the envelope it opened from it.
func TestLifecycle_KeepsNoAnsweredBody(t *testing.T) {
	m := newTestMachine(Settings{}, Implements{})
	body := []byte(clusterA)
	held := weak.Make(&body[0])
	run(t, m, []step{{&v1.Queued{Handle: 1, Request: &v1.ControlRequest{Task: v1.Task_TASK_CHECK, Body: body}}, []string{"reply#1(200)"}}})
	body = nil
	runtime.GC()
	if held.Value() != nil {
		t.Fatal("the machine still holds the body of a request it answered")
	}
	if m.Dead() {
		t.Fatal("the pod died")
	}
}
