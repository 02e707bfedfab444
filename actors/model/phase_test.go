package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/testkit/vclock"
)

// phaseWait bounds the waits of the tests that need real concurrency; each ends as soon as it can.
const phaseWait = 10 * time.Second

// phaseCaller is a fake control.Caller. Pod URLs are "http://<key>", so each request names its pod and task.
// It records the requests in the order they arrive and answers with scripted codes (200 by default).
type phaseCaller struct {
	codes map[string]int   // "task key" -> code
	errs  map[string]error // "task key" -> transport error
	// gate, if set, runs inside every Post before it answers; an error becomes the transport error.
	gate func(ctx context.Context, task string) error

	mu     sync.Mutex
	calls  []string          // "task key", in arrival order
	bodies map[string][]byte // "task key" -> body
	paths  []string          // request paths, in arrival order
}

func (c *phaseCaller) Post(ctx context.Context, u string, body []byte) (int, []byte, error) {
	parsed, err := url.Parse(u)
	if err != nil {
		return 0, nil, err
	}
	task := strings.Split(strings.TrimPrefix(parsed.Path, "/control/"), "/")[0]
	call := task + " " + parsed.Host
	c.mu.Lock()
	c.calls = append(c.calls, call)
	c.paths = append(c.paths, parsed.Path)
	if c.bodies == nil {
		c.bodies = map[string][]byte{}
	}
	c.bodies[call] = body
	c.mu.Unlock()
	if c.gate != nil {
		if err := c.gate(ctx, task); err != nil {
			return 0, nil, err
		}
	}
	if err := c.errs[call]; err != nil {
		return 0, nil, err
	}
	if code, ok := c.codes[call]; ok {
		return code, []byte(`{"error":"scripted"}`), nil
	}
	return http.StatusOK, []byte(`{}`), nil
}

func (c *phaseCaller) recorded() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// sentWire decodes the body of "task key".
func (c *phaseCaller) sentWire(t *testing.T, call string) sdk.Wire {
	t.Helper()
	c.mu.Lock()
	body, ok := c.bodies[call]
	c.mu.Unlock()
	if !ok {
		t.Fatalf("no %q request", call)
	}
	var w sdk.Wire
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatalf("%s: body %q: %v", call, body, err)
	}
	return w
}

// phasePlanOf plans a phase over pods named by keys, reached at http://<key>, with one dependency.
func phasePlanOf(keys ...string) PhasePlan {
	w := sdk.Wire{
		Pods:         map[string]payload.Payload{},
		Dependencies: map[string]map[string]payload.Payload{"ns.db": {"d1": {"ip": "10.0.1.1"}}},
	}
	var pods []PhasePod
	for _, k := range keys {
		w.Pods[k] = payload.Payload{"ip": "10.0.0." + k[1:]}
		pods = append(pods, PhasePod{Key: k, URL: "http://" + k})
	}
	return PhasePlan{Pods: pods, Wire: w, Grace: time.Minute}
}

// phaseOrder checks that every request of each group of tasks arrived before any of the next group, and
// that each group holds exactly the wanted requests.
func phaseOrder(t *testing.T, calls []string, groups ...[]string) {
	t.Helper()
	i := 0
	for _, g := range groups {
		if i+len(g) > len(calls) {
			t.Fatalf("calls %q, want the groups %q in order", calls, groups)
		}
		got := map[string]bool{}
		for _, c := range calls[i : i+len(g)] {
			got[c] = true
		}
		for _, w := range g {
			if !got[w] {
				t.Fatalf("calls %q, want the groups %q in order", calls, groups)
			}
		}
		i += len(g)
	}
	if i != len(calls) {
		t.Fatalf("calls %q, want the groups %q in order", calls, groups)
	}
}

func each(task string, keys ...string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = task + " " + k
	}
	return out
}

func TestPhase_ChecksThenOnsThenOks(t *testing.T) {
	c := &phaseCaller{}
	dropped, err := runPhase(t, context.Background(), c, phasePlanOf("k1", "k2", "k3"))
	if err != nil || len(dropped) != 0 {
		t.Fatalf("dropped %q err %v", dropped, err)
	}
	// DESIGN §7: all checks before any on, all ons before any ok.
	phaseOrder(t, c.recorded(), each("check", "k1", "k2", "k3"), each("on", "k1", "k2", "k3"), each("ok", "k1", "k2", "k3"))
	for _, call := range c.recorded() {
		w := c.sentWire(t, call)
		key := strings.Fields(call)[1]
		if w.Key != key || len(w.Pods) != 3 || len(w.Dependencies["ns.db"]) != 1 {
			t.Fatalf("%s: sent key %q, %d pods, dependencies %v", call, w.Key, len(w.Pods), w.Dependencies)
		}
	}
	for _, p := range c.paths {
		if !strings.HasSuffix(p, "/60") {
			t.Fatalf("path %s: want the grace in seconds last", p)
		}
	}
}

func TestPhase_SequentialGoesOneAtATimeInKeyOrder(t *testing.T) {
	c := &phaseCaller{}
	plan := phasePlanOf("k3", "k1", "k2") // out of order on purpose
	plan.Sequential = true
	if _, err := runPhase(t, context.Background(), c, plan); err != nil {
		t.Fatal(err)
	}
	want := append(append(each("check", "k1", "k2", "k3"), each("on", "k1", "k2", "k3")...), each("ok", "k1", "k2", "k3")...)
	if got := c.recorded(); !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

func TestPhase_GonePodIsDroppedAndLeftOutOfTheCluster(t *testing.T) {
	c := &phaseCaller{codes: map[string]int{"check k2": http.StatusGone}}
	plan := phasePlanOf("k1", "k2", "k3")
	dropped, err := runPhase(t, context.Background(), c, plan)
	if err != nil || !reflect.DeepEqual(dropped, []string{"k2"}) {
		t.Fatalf("dropped %q err %v, want [k2]", dropped, err)
	}
	phaseOrder(t, c.recorded(), each("check", "k1", "k2", "k3"), each("on", "k1", "k3"), each("ok", "k1", "k3"))
	if w := c.sentWire(t, "on k3"); len(w.Pods) != 2 || w.Pods["k2"] != nil {
		t.Fatalf("on: the cluster still holds the dead pod: %v", w.Pods)
	}
	if len(plan.Wire.Pods) != 3 {
		t.Fatal("the caller's plan was changed")
	}
}

func TestPhase_AllPodsGoneEndsThePhaseAfterTheChecks(t *testing.T) {
	c := &phaseCaller{codes: map[string]int{"check k1": http.StatusGone, "check k2": http.StatusGone}}
	plan := phasePlanOf("k1", "k2")
	plan.FullShutdown = true
	dropped, err := runPhase(t, context.Background(), c, plan)
	if err != nil || !reflect.DeepEqual(dropped, []string{"k1", "k2"}) {
		t.Fatalf("dropped %q err %v", dropped, err)
	}
	phaseOrder(t, c.recorded(), each("check", "k1", "k2"))
}

func TestPhase_RefusedCheckFailsThePhase(t *testing.T) {
	for name, c := range map[string]*phaseCaller{
		"406":         {codes: map[string]int{"check k2": http.StatusNotAcceptable, "check k3": http.StatusGone}},
		"unreachable": {errs: map[string]error{"check k2": errors.New("connection refused")}},
	} {
		t.Run(name, func(t *testing.T) {
			dropped, err := runPhase(t, context.Background(), c, phasePlanOf("k1", "k2", "k3"))
			if err == nil || !strings.Contains(err.Error(), "pod k2") || !strings.Contains(err.Error(), "check") {
				t.Fatalf("err %v: want the check of k2 named", err)
			}
			if name == "406" && (!strings.Contains(err.Error(), "406") || !reflect.DeepEqual(dropped, []string{"k3"})) {
				t.Fatalf("err %v dropped %q: want the code named and k3 dropped", err, dropped)
			}
			phaseOrder(t, c.recorded(), each("check", "k1", "k2", "k3")) // no on
		})
	}
}

func TestPhase_PodWithoutItsControlPortFailsBeforeAnyRequest(t *testing.T) {
	c := &phaseCaller{}
	plan := phasePlanOf("k1", "k2")
	plan.Pods[1].URL = ""
	if _, err := runPhase(t, context.Background(), c, plan); err == nil || !strings.Contains(err.Error(), "k2") {
		t.Fatalf("err %v: want k2 named", err)
	}
	if got := c.recorded(); len(got) != 0 {
		t.Fatalf("requests were sent: %q", got)
	}
}

func TestPhase_BadPlansFailBeforeAnyRequest(t *testing.T) {
	c := &phaseCaller{}
	noGrace := phasePlanOf("k1")
	noGrace.Grace = 0
	stranger := phasePlanOf("k1")
	stranger.Pods = append(stranger.Pods, PhasePod{Key: "k9", URL: "http://k9"})
	for name, plan := range map[string]PhasePlan{"no grace": noGrace, "pod not in the wire": stranger} {
		if _, err := runPhase(t, context.Background(), c, plan); err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
	if dropped, err := runPhase(t, context.Background(), c, phasePlanOf()); err != nil || dropped != nil {
		t.Fatalf("no pods: dropped %q err %v", dropped, err)
	}
	if got := c.recorded(); len(got) != 0 {
		t.Fatalf("requests were sent: %q", got)
	}
}

func TestPhase_FullShutdownSendsOffToAllFirst(t *testing.T) {
	c := &phaseCaller{codes: map[string]int{"off k1": http.StatusInternalServerError}} // off replies are ignored
	plan := phasePlanOf("k1", "k2")
	plan.FullShutdown = true
	if _, err := runPhase(t, context.Background(), c, plan); err != nil {
		t.Fatal(err)
	}
	phaseOrder(t, c.recorded(), each("check", "k1", "k2"), each("off", "k1", "k2"), each("on", "k1", "k2"), each("ok", "k1", "k2"))
}

func TestPhase_OnMustSucceedEverywhere(t *testing.T) {
	for name, code := range map[string]int{"406": http.StatusNotAcceptable, "410": http.StatusGone, "408": http.StatusRequestTimeout} {
		t.Run(name, func(t *testing.T) {
			c := &phaseCaller{codes: map[string]int{"on k1": code}}
			_, err := runPhase(t, context.Background(), c, phasePlanOf("k1", "k2"))
			if err == nil || !strings.Contains(err.Error(), "on failed") || !strings.Contains(err.Error(), "pod k1") || !strings.Contains(err.Error(), name) {
				t.Fatalf("err %v", err)
			}
			phaseOrder(t, c.recorded(), each("check", "k1", "k2"), each("on", "k1", "k2")) // no ok
		})
	}
}

func TestPhase_OkFailuresAreIgnored(t *testing.T) {
	c := &phaseCaller{
		codes: map[string]int{"ok k1": http.StatusInternalServerError},
		errs:  map[string]error{"ok k2": errors.New("connection reset")},
	}
	if _, err := runPhase(t, context.Background(), c, phasePlanOf("k1", "k2")); err != nil {
		t.Fatalf("err %v: ok replies are ignored", err)
	}
}

// TestPhase_ParallelRequestsOverlap proves the requests of each step are in flight together: each blocks
// until all of its step's have arrived (which never happens if they go one by one), with a deadline.
func TestPhase_ParallelRequestsOverlap(t *testing.T) {
	const n = 4
	var mu sync.Mutex
	arrived := map[string]int{}
	all := map[string]chan struct{}{}
	deadline := make(chan struct{}) // closed, so that every waiting request sees it
	timer := time.AfterFunc(phaseWait, func() { close(deadline) })
	defer timer.Stop()
	c := &phaseCaller{gate: func(ctx context.Context, task string) error {
		mu.Lock()
		if all[task] == nil {
			all[task] = make(chan struct{})
		}
		ch := all[task]
		arrived[task]++
		if arrived[task] == n {
			close(ch)
		}
		mu.Unlock()
		select {
		case <-ch:
			return nil
		case <-deadline:
			mu.Lock()
			defer mu.Unlock()
			return fmt.Errorf("only %d %s requests in flight together", arrived[task], task)
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	plan := phasePlanOf("k1", "k2", "k3", "k4")
	plan.FullShutdown = true
	if _, err := runPhase(t, context.Background(), c, plan); err != nil {
		t.Fatal(err)
	}
	if len(c.recorded()) != 4*n {
		t.Fatalf("calls %q", c.recorded())
	}
}

// TestPhase_RequestTimesOutAfterOneAndAQuarterGrace runs the timeouts on a virtual clock: a pod that never
// answers fails the phase once 1.25 × grace (rounded up to whole seconds) passed, not a tick earlier.
func TestPhase_RequestTimesOutAfterOneAndAQuarterGrace(t *testing.T) {
	clk := vclock.New()
	inFlight := make(chan struct{}, 8)
	c := &phaseCaller{gate: func(ctx context.Context, task string) error {
		inFlight <- struct{}{}
		<-ctx.Done() // a pod that never answers
		return ctx.Err()
	}}
	plan := phasePlanOf("k1", "k2")
	plan.Grace = 1500 * time.Millisecond // the pods get 2 s, the leader waits 2.5 s
	h := newPhaseHost(t, clk)            // the host's timers run on clk
	done := make(chan error, 1)
	go func() {
		_, err := h.run(context.Background(), c, plan)
		done <- err
	}()
	for range 2 {
		select {
		case <-inFlight:
		case <-time.After(phaseWait):
			t.Fatal("the checks did not go out")
		}
	}
	if fired := clk.Advance(2500*time.Millisecond - time.Nanosecond); fired != 0 {
		t.Fatalf("%d requests timed out early", fired)
	}
	if fired := clk.Advance(time.Nanosecond); fired != 2 {
		t.Fatalf("%d requests timed out, want 2", fired)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no reply within 2.5s") || !strings.Contains(err.Error(), "pod k1") {
			t.Fatalf("err %v: want a timeout of k1's check", err)
		}
	case <-time.After(phaseWait):
		t.Fatal("the phase did not end")
	}
	for _, p := range c.paths {
		if !strings.HasSuffix(p, "/check/2") {
			t.Fatalf("path %s: want the grace rounded up to 2 s", p)
		}
	}
}

// TestPhase_StoppingThePhaseAbortsIt stops the phase's actor while its first requests are out (the model
// stops: the leader stepped down): the requests in flight are cancelled, and no request or step follows.
func TestPhase_StoppingThePhaseAbortsIt(t *testing.T) {
	for _, sequential := range []bool{false, true} {
		t.Run(fmt.Sprintf("sequential=%v", sequential), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := &phaseCaller{gate: func(req context.Context, task string) error {
				cancel() // runPhase stops the actor
				<-req.Done()
				return req.Err()
			}}
			plan := phasePlanOf("k1", "k2")
			plan.Sequential = sequential
			_, err := runPhase(t, ctx, c, plan)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want context.Canceled", err)
			}
			for _, call := range c.recorded() {
				if !strings.HasPrefix(call, "check ") {
					t.Fatalf("calls %q: a step started after the cancellation", c.recorded())
				}
			}
			if sequential && len(c.recorded()) != 1 {
				t.Fatalf("calls %q: sequential requests went on after the cancellation", c.recorded())
			}
		})
	}
}

func TestPhasePods_BuildsControlURLsFromThePayloads(t *testing.T) {
	parsed, err := payload.Parse([]byte(`{"ip":"10.0.0.2","port":"8080","ports":{"8080":31002,"9000":31003}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := PhasePods(map[string]payload.Payload{
		"k2": parsed,
		"k1": {"ip": "10.0.0.1", "port": "8080", "ports": map[string]any{"8080": 31001}},
		"k3": {"ip": "::1", "port": 8080, "ports": map[string]int64{"8080": 31004}},
		"k4": {"ip": "10.0.0.4", "port": "8080", "ports": map[string]any{"9000": 31005}}, // control port not exposed
		"k5": {"ip": "10.0.0.5", "ports": map[string]any{"8080": 31006}},                 // no port
		"k6": {"port": "8080", "ports": map[string]any{"8080": 31007}},                   // no ip
		"k7": {"ip": "10.0.0.7", "port": "8080", "ports": map[string]any{"8080": 70000}}, // not a port
	})
	want := []PhasePod{
		{"k1", "http://10.0.0.1:31001"}, {"k2", "http://10.0.0.2:31002"}, {"k3", "http://[::1]:31004"},
		{"k4", ""}, {"k5", ""}, {"k6", ""}, {"k7", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

// phaseBackend is one pod's control API backend for the HTTP test: it records the tasks it gets and checks
// that the body is a cluster whose key is its own.
type phaseBackend struct {
	key   string
	check int // the code check answers
	mu    sync.Mutex
	tasks []string
	bad   []string
}

func (b *phaseBackend) Info(context.Context) (map[string]any, error) { return map[string]any{}, nil }
func (b *phaseBackend) Log() []string                                { return nil }
func (b *phaseBackend) Reset(string)                                 {}
func (b *phaseBackend) Control(_ context.Context, r control.Request) (int, []byte, error) {
	task, body, timeout := r.Task, r.Body, r.Timeout
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tasks = append(b.tasks, task.String())
	if cl, err := sdk.ParseCluster(body); err != nil || cl.Key != b.key || timeout != 60*time.Second || r.Phase != "ab__lock__0000000003.7" {
		b.bad = append(b.bad, fmt.Sprintf("%v: cluster %+v err %v timeout %v phase %q", task, cl, err, timeout, r.Phase))
	}
	if task == v1.Task_TASK_CHECK && b.check != 0 {
		return b.check, []byte(`{}`), nil
	}
	return http.StatusOK, []byte(`{}`), nil
}

func TestPhase_OverHTTPToControlServers(t *testing.T) {
	keys := []string{"k1", "k2", "k3"}
	backends := map[string]*phaseBackend{}
	pods := map[string]payload.Payload{}
	for _, k := range keys {
		b := &phaseBackend{key: k}
		if k == "k3" {
			b.check = http.StatusGone
		}
		srv := httptest.NewServer(control.Handler(b, nil, control.Settings{}, nil))
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		backends[k] = b
		pods[k] = payload.Payload{"ip": u.Hostname(), "port": "8080", "ports": map[string]any{"8080": u.Port()}}
	}
	plan := PhasePlan{
		Pods: PhasePods(pods),
		Wire: sdk.Wire{Pods: pods}, Grace: time.Minute, FullShutdown: true,
		Phase: PhaseID("/ochopod/clusters/ns.c/coordinator/ab__lock__0000000003", 7),
	}
	dropped, err := runPhase(t, context.Background(), control.HTTPCaller{}, plan)
	if err != nil || !reflect.DeepEqual(dropped, []string{"k3"}) {
		t.Fatalf("dropped %q err %v", dropped, err)
	}
	for _, k := range keys {
		b := backends[k]
		want := []string{"TASK_CHECK", "TASK_OFF", "TASK_ON", "TASK_OK"}
		if k == "k3" {
			want = want[:1]
		}
		if !reflect.DeepEqual(b.tasks, want) || len(b.bad) > 0 {
			t.Fatalf("pod %s got %q, bad requests %q", k, b.tasks, b.bad)
		}
	}
}

func TestPhase_SplicedBodiesEqualWholeEncodings(t *testing.T) {
	w := sdk.Wire{
		Pods:         map[string]payload.Payload{"a": {"ip": "1.1.1.1", "seq": int64(1)}, "b\"x": {"ip": "2.2.2.2"}},
		Dependencies: map[string]map[string]payload.Payload{"ns.db": {"d": {"ip": "3.3.3.3"}}},
	}
	enc := (&phaseRun{wire: w}).encoder()
	for _, key := range []string{"a", "b\"x", "é\u2028"} {
		got, err := enc(key)
		if err != nil {
			t.Fatal(err)
		}
		w.Key = key
		want, _ := json.Marshal(w)
		if string(got) != string(want) {
			t.Fatalf("key %q:\n got %s\nwant %s", key, got, want)
		}
	}
}
