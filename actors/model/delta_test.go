package model

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/delta"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// deltaPods answers control requests as pods do: each keeps the cluster of its last on answered 200 (its
// base) and the last cluster it opened, as the lifecycle does, and opens bodies with sdk.OpenBody, answering
// 412 to a delta it cannot rebuild (DESIGN §7).
type deltaPods struct {
	mu     sync.Mutex
	base   map[string]*sdk.Envelope
	opened map[string]*sdk.Envelope
	last   map[string][]byte         // the body of opened: check, on and ok of a phase carry the same
	seen   map[string][]*sdk.Cluster // key -> the clusters its requests carried, rebuilt
	forms  map[string][]string       // key -> "task whole|delta|412" in order
}

func (d *deltaPods) Post(_ context.Context, u string, body []byte) (int, []byte, error) {
	parsed, err := url.Parse(u)
	if err != nil {
		return 0, nil, err
	}
	task, key := strings.Split(strings.TrimPrefix(parsed.Path, "/control/"), "/")[0], parsed.Host
	d.mu.Lock()
	defer d.mu.Unlock()
	var probe map[string]json.RawMessage
	_ = json.Unmarshal(body, &probe)
	form := "whole"
	if _, ok := probe["base"]; ok {
		form = "delta"
	}
	e, err := d.opened[key], error(nil)
	if !bytes.Equal(body, d.last[key]) {
		e, err = sdk.OpenBody(body, d.base[key], d.opened[key])
	}
	if errors.Is(err, sdk.ErrStaleBase) {
		d.forms[key] = append(d.forms[key], task+" 412")
		return http.StatusPreconditionFailed, []byte(`{}`), nil
	}
	if err != nil {
		return http.StatusBadRequest, []byte(`{}`), nil
	}
	c, err := e.Cluster()
	if err != nil {
		return http.StatusBadRequest, []byte(`{}`), nil
	}
	d.opened[key], d.last[key] = e, body
	d.forms[key] = append(d.forms[key], task+" "+form)
	d.seen[key] = append(d.seen[key], c)
	if task == taskOn {
		d.base[key] = e
	}
	return http.StatusOK, []byte(`{}`), nil
}

func deltaPayload(seq int64, ours bool) payload.Payload {
	p := payload.Payload{"ip": "127.0.0.1", "port": "8080", "ports": map[string]any{"8080": 30000 + seq}, "seq": seq}
	if ours {
		p[delta.KeyProtocol] = int64(delta.Protocol)
	}
	return p
}

func newDeltaPods() *deltaPods {
	return &deltaPods{base: map[string]*sdk.Envelope{}, opened: map[string]*sdk.Envelope{}, last: map[string][]byte{},
		seen: map[string][]*sdk.Cluster{}, forms: map[string][]string{}}
}

// runDeltaPhase runs a phase of wire on pods with the tracker's bodies, and checks that every request of it
// carried the whole cluster, as the pod saw it.
func runDeltaPhase(t *testing.T, pods *deltaPods, wire sdk.Wire, tracker *delta.Tracker) {
	t.Helper()
	plan := PhasePlan{Wire: wire, Grace: time.Second, Bodies: DeltaBodies(tracker)}
	for k := range wire.Pods {
		plan.Pods = append(plan.Pods, PhasePod{Key: k, URL: "http://" + k})
	}
	if _, err := runPhase(t, context.Background(), pods, plan); err != nil {
		t.Fatal(err)
	}
	for key := range wire.Pods {
		w := wire
		w.Key = key
		c, err := sdk.FromWire(w)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(c) // JSON: numbers read back as float64
		seen := pods.seen[key]
		for _, c := range seen[len(seen)-3:] {
			if got, _ := json.Marshal(c); string(got) != string(want) {
				t.Fatalf("pod %s saw %s\nwant %s", key, got, want)
			}
		}
	}
	clear(pods.seen)
}

func TestRunPhase_DeltaBodiesWithTheWholeClusterOn412(t *testing.T) {
	pods := newDeltaPods()
	tracker := delta.NewTracker()
	wire := sdk.Wire{Pods: map[string]payload.Payload{"a": deltaPayload(1, false), "b": deltaPayload(2, true), "c": deltaPayload(3, true)},
		Dependencies: map[string]map[string]payload.Payload{"db": {"x": deltaPayload(9, false)}}}
	phase := func() {
		t.Helper()
		runDeltaPhase(t, pods, wire, tracker)
	}
	want := func(key string, forms ...string) {
		t.Helper()
		if got := pods.forms[key]; !reflect.DeepEqual(got, forms) {
			t.Fatalf("pod %s: requests %q, want %q", key, got, forms)
		}
		delete(pods.forms, key)
	}

	phase() // nobody has a base: whole clusters
	for _, k := range []string{"a", "b", "c"} {
		want(k, "check whole", "on whole", "ok whole")
	}

	wire.Pods["d"] = deltaPayload(4, true) // a join
	wire.Dependencies["db"] = map[string]payload.Payload{"y": deltaPayload(10, false)}
	delete(pods.base, "c")
	delete(pods.opened, "c")
	delete(pods.last, "c") // c lost its base (say it restarted): 412, then the whole cluster in the same step
	phase()
	want("a", "check whole", "on whole", "ok whole") // original: always whole
	want("b", "check delta", "on delta", "ok delta")
	want("c", "check 412", "check whole", "on whole", "ok whole")
	want("d", "check whole", "on whole", "ok whole") // no base yet

	delete(wire.Pods, "b") // a leave: b is gone from the deltas of the others
	phase()
	want("a", "check whole", "on whole", "ok whole")
	for _, k := range []string{"c", "d"} {
		want(k, "check delta", "on delta", "ok delta")
	}
}

// DESIGN §7, hand-over: a new leader's tracker starts from its own pod's base (the lifecycle's answer to
// GetBase). The pods the last phase configured get deltas at once; a pod whose base differs answers 412 and
// gets the whole cluster in the same step; original pods and a pod that joined get the whole cluster.
func TestRunPhase_HandOverSendsDeltasAgainstTheGuessedBase(t *testing.T) {
	pods := newDeltaPods()
	wire := sdk.Wire{Pods: map[string]payload.Payload{"a": deltaPayload(1, false), "b": deltaPayload(2, true), "c": deltaPayload(3, true), "lead": deltaPayload(4, true)},
		Dependencies: map[string]map[string]payload.Payload{"db": {"x": deltaPayload(9, false)}}}
	phase := func(tracker *delta.Tracker) {
		t.Helper()
		runDeltaPhase(t, pods, wire, tracker)
	}
	phase(delta.NewTracker()) // the old leader's phase: every pod gets the cluster, ours keep it as their base
	for _, k := range []string{"a", "b", "c", "lead"} {
		if got := pods.forms[k]; !reflect.DeepEqual(got, []string{"check whole", "on whole", "ok whole"}) {
			t.Fatalf("pod %s: %q", k, got)
		}
	}
	clear(pods.forms)
	// c holds another base (say it restarted and a leader since configured it alone).
	pods.base["c"], _ = sdk.OpenBody([]byte(`{"pods":{"c":{"ip":"127.0.0.1","port":"8080","ports":{"8080":30003}}},"dependencies":{},"key":"c"}`))
	delete(pods.opened, "c")
	delete(pods.last, "c")

	tracker := delta.NewTracker() // the new leader, b, guesses from its own pod's base
	base, deps := pods.base["b"].Entries()
	tracker.Guess(base, deps)
	delete(wire.Pods, "lead") // the old leader left; d joined
	wire.Pods["d"] = deltaPayload(5, true)
	phase(tracker)
	for k, want := range map[string][]string{
		"a": {"check whole", "on whole", "ok whole"},
		"b": {"check delta", "on delta", "ok delta"},
		"c": {"check 412", "check whole", "on whole", "ok whole"},
		"d": {"check whole", "on whole", "ok whole"},
	} {
		if got := pods.forms[k]; !reflect.DeepEqual(got, want) {
			t.Fatalf("pod %s: requests %q, want %q", k, got, want)
		}
	}
}
