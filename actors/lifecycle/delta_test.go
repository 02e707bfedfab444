package lifecycle

import (
	"encoding/json"
	"testing"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/delta"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// replyCode is the code of the one reply among effects (0 if none), and the configure callback's cluster.
func replyCode(effects []Effect) (code int32, configure *sdk.Cluster, called bool) {
	for _, e := range effects {
		switch e := e.(type) {
		case Reply:
			code = e.Code
		case RunCallback:
			if e.Name == cbConfigure {
				configure, called = e.Cluster, true
			}
		}
	}
	return code, configure, called
}

// DESIGN §7: a pod rebuilds a delta on the cluster of its last on answered 200, and its callbacks see the
// whole cluster; a delta it cannot rebuild is 412, and the pod is none the worse.
func TestLifecycle_DeltaBodiesAreRebuiltOrAnswered412(t *testing.T) {
	p := func(seq int64) payload.Payload {
		return payload.Payload{"ip": "10.0.0.1", "seq": seq, delta.KeyProtocol: int64(delta.Protocol)}
	}
	pods := map[string]payload.Payload{"k1": p(1)}
	deps := map[string]map[string]payload.Payload{"db": {"d1": {"ip": "10.0.1.1"}}}
	tr := delta.NewTracker()
	body := func() ([]byte, bool) {
		b, err := tr.Bodies(pods, deps)
		if err != nil {
			t.Fatal(err)
		}
		out, isDelta, err := b.Body("k1")
		if err != nil {
			t.Fatal(err)
		}
		b.Accepted("k1") // the leader's view once on is answered 200 (checked below)
		return out, isDelta
	}
	handle := func(m *Machine, in any, want int32) *sdk.Cluster {
		t.Helper()
		code, c, _ := replyCode(m.Handle(input(in)))
		if code != want {
			t.Fatalf("%v: code %d, want %d", in, code, want)
		}
		return c
	}
	m := newTestMachine(Settings{}, Implements{})
	first, isDelta := body()
	if isDelta {
		t.Fatal("the first body is a delta")
	}
	if _, _, called := replyCode(m.Handle(input(req(1, v1.Task_TASK_ON, string(first))))); !called {
		t.Fatal("on did not configure")
	}
	handle(m, configured(1, "app"), 0)
	handle(m, started(1, 100), 200)

	pods["k2"] = payload.Payload{"ip": "10.0.0.2", "seq": int64(2)} // a join: a delta, nothing to restart
	second, isDelta := body()
	if !isDelta {
		t.Fatal("the second body is not a delta")
	}
	fresh := newTestMachine(Settings{}, Implements{})
	for h, task := range []v1.Task{v1.Task_TASK_CHECK, v1.Task_TASK_ON, v1.Task_TASK_OK} {
		handle(m, req(uint64(10+h), task, string(second)), 200)
		handle(fresh, req(uint64(20+h), task, string(second)), 412) // no base: 412
	}
	if fresh.Dead() {
		t.Fatal("412 killed the pod")
	}

	deps["db"] = map[string]payload.Payload{"d2": {"ip": "10.0.1.2"}} // the dependencies change: a restart
	third, isDelta := body()
	if !isDelta {
		t.Fatal("the third body is not a delta")
	}
	handle(m, req(30, v1.Task_TASK_ON, string(third)), 0)
	_, got, called := replyCode(m.Handle(input(tornDown(1))))
	if !called || got == nil {
		t.Fatal("the restart did not configure with a cluster")
	}
	want, err := sdk.FromWire(sdk.Wire{Pods: pods, Dependencies: deps, Key: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("configure saw %s\nwant the whole cluster %s", gotJSON, wantJSON)
	}
}
