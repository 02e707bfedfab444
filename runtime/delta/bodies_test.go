package delta_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/ochopod/ochopod/runtime/delta"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// pod is a valid payload (DESIGN §12) for seq i; ours reads deltas.
func pod(i int, ours bool) payload.Payload {
	p := payload.Payload{"ip": fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), "port": "8080",
		"ports": map[string]any{"8080": int64(31000 + i)}, "seq": int64(i), "cluster": "web", "namespace": "prod"}
	if ours {
		p[delta.KeyProtocol] = int64(delta.Protocol)
	}
	return p
}

type cluster struct {
	pods map[string]payload.Payload
	deps map[string]map[string]payload.Payload
}

func (c cluster) bodies(t *testing.T, tr *delta.Tracker) *delta.Bodies {
	t.Helper()
	b, err := tr.Bodies(c.pods, c.deps)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// whole is what an original leader sends: the cluster for key, through sdk.Wire.
func (c cluster) whole(t *testing.T, key string) *sdk.Envelope {
	t.Helper()
	body, err := json.Marshal(sdk.Wire{Pods: c.pods, Dependencies: c.deps, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	e, err := sdk.OpenBody(body)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func clusterOf(t *testing.T, e *sdk.Envelope) *sdk.Cluster {
	t.Helper()
	c, err := e.Cluster()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBodies_OriginalPodsAndPodsWithNoBaseGetTheWholeCluster(t *testing.T) {
	c := cluster{pods: map[string]payload.Payload{"a": pod(1, false), "b": pod(2, true)}, deps: map[string]map[string]payload.Payload{"db": {}}}
	tr := delta.NewTracker()
	b := c.bodies(t, tr)
	for _, key := range []string{"a", "b"} {
		body, isDelta, err := b.Body(key)
		if err != nil || isDelta {
			t.Fatalf("%s: delta %v, %v", key, isDelta, err)
		}
		var w map[string]json.RawMessage
		if err := json.Unmarshal(body, &w); err != nil {
			t.Fatal(err)
		}
		if _, ok := w["base"]; ok {
			t.Fatalf("%s: a whole body with a base: %s", key, body)
		}
		_, hashed := w["hash"]
		if hashed != (key == "b") {
			t.Fatalf("%s: hash in the whole body %v, want it only for a pod that reads deltas: %s", key, hashed, body)
		}
		b.Accepted(key)
	}
	// Next phase: a joins nothing, c joins. a is original: whole again; b has a base: a delta.
	c.pods["c"] = pod(3, true)
	b = c.bodies(t, tr)
	if _, isDelta, _ := b.Body("a"); isDelta {
		t.Fatal("an original pod got a delta")
	}
	if _, isDelta, _ := b.Body("c"); isDelta {
		t.Fatal("a pod with no base got a delta")
	}
	body, isDelta, _ := b.Body("b")
	if !isDelta {
		t.Fatal("a pod of ours with a base got the whole cluster")
	}
	var d struct {
		Pods map[string]json.RawMessage
		Gone []string
		Deps map[string]json.RawMessage `json:"dependencies"`
		Key  string
	}
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(d.Pods)), []string{"c"}) || len(d.Gone) != 0 || len(d.Deps) != 0 || d.Key != "b" {
		t.Fatalf("delta for a join: %s", body)
	}
}

func TestBodies_RefusedDeltaGivesTheWholeClusterAndForgetsTheBase(t *testing.T) {
	c := cluster{pods: map[string]payload.Payload{"a": pod(1, true)}}
	tr := delta.NewTracker()
	b := c.bodies(t, tr)
	b.Accepted("a")
	c.pods["b"] = pod(2, true)
	b = c.bodies(t, tr)
	if _, isDelta, _ := b.Body("a"); !isDelta {
		t.Fatal("want a delta first")
	}
	b.Refused("a")
	if _, isDelta, _ := b.Body("a"); isDelta {
		t.Fatal("a delta again after 412")
	}
	if _, isDelta, _ := c.bodies(t, tr).Body("a"); isDelta {
		t.Fatal("the next phase sent a delta against the base the pod refused")
	}
}

func TestBodies_ForgetsPodsThatLeft(t *testing.T) {
	c := cluster{pods: map[string]payload.Payload{"a": pod(1, true), "b": pod(2, true)}}
	tr := delta.NewTracker()
	b := c.bodies(t, tr)
	b.Accepted("a")
	b.Accepted("b")
	delete(c.pods, "b")
	c.bodies(t, tr)
	c.pods["b"] = pod(2, true) // back with the same key: its base was forgotten
	if _, isDelta, _ := c.bodies(t, tr).Body("b"); isDelta {
		t.Fatal("a pod that left and came back got a delta against a base from before")
	}
}

// TestBodies_PodRebuildsWhatAWholeBodyHolds drives random cluster changes (joins, leaves, changed payloads,
// dependencies changing, appearing and going) through a leader's tracker and a pod that keeps its base as
// the lifecycle does; after every phase the pod's cluster must be the one a whole body gives, never a part.
func TestBodies_PodRebuildsWhatAWholeBodyHolds(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		c := cluster{pods: map[string]payload.Payload{"self": pod(0, true)}, deps: map[string]map[string]payload.Payload{}}
		tr := delta.NewTracker()
		var base *sdk.Envelope
		next := 1
		deltas := 0
		for phase := range 60 {
			for range rng.IntN(4) {
				switch op := rng.IntN(5); {
				case op == 0:
					c.pods[fmt.Sprintf("p%03d", next)] = pod(next, rng.IntN(2) == 0)
					next++
				case op == 1 && len(c.pods) > 1:
					keys := slices.Sorted(maps.Keys(c.pods))
					if k := keys[rng.IntN(len(keys))]; k != "self" {
						delete(c.pods, k)
					}
				case op == 2:
					keys := slices.Sorted(maps.Keys(c.pods))
					k := keys[rng.IntN(len(keys))]
					c.pods[k] = c.pods[k].With("status", fmt.Sprintf("s%d", phase))
				case op == 3:
					name := []string{"db", "/prod.cache", "web-*"}[rng.IntN(3)]
					c.deps[name] = map[string]payload.Payload{fmt.Sprintf("d%d", phase): pod(500+phase, false)}
				default:
					for name := range c.deps {
						delete(c.deps, name)
						break
					}
				}
			}
			b := c.bodies(t, tr)
			body, isDelta, err := b.Body("self")
			if err != nil {
				t.Fatal(err)
			}
			got, err := sdk.OpenBody(body, base)
			if err != nil {
				t.Fatalf("seed %d phase %d (delta %v): %v\n%s", seed, phase, isDelta, err, body)
			}
			want := c.whole(t, "self")
			if !reflect.DeepEqual(clusterOf(t, got), clusterOf(t, want)) {
				t.Fatalf("seed %d phase %d: rebuilt %+v\nwant %+v", seed, phase, clusterOf(t, got), clusterOf(t, want))
			}
			if got.Sum() != b.Sum() || want.Sum() != b.Sum() {
				t.Fatalf("seed %d phase %d: sums rebuilt %s, whole %s, leader %s", seed, phase, got.Sum(), want.Sum(), b.Sum())
			}
			if isDelta {
				deltas++
			}
			if rng.IntN(6) > 0 { // else the on failed: neither side moves its base
				b.Accepted("self")
				base = got
			}
		}
		if deltas == 0 {
			t.Fatalf("seed %d: no delta was ever sent", seed)
		}
	}
}

func TestOpenBody_StaleBaseOrWrongSumIsErrStaleBase(t *testing.T) {
	c := cluster{pods: map[string]payload.Payload{"a": pod(1, true), "b": pod(2, true)}}
	tr := delta.NewTracker()
	b := c.bodies(t, tr)
	first, _, _ := b.Body("a")
	base, err := sdk.OpenBody(first)
	if err != nil {
		t.Fatal(err)
	}
	b.Accepted("a")
	c.pods["c"] = pod(3, true)
	body, isDelta, _ := c.bodies(t, tr).Body("a")
	if !isDelta {
		t.Fatal("want a delta")
	}
	if _, err := sdk.OpenBody(body); !errors.Is(err, sdk.ErrStaleBase) {
		t.Fatalf("no base: %v, want ErrStaleBase", err)
	}
	other := cluster{pods: map[string]payload.Payload{"a": pod(1, true)}}.whole(t, "a")
	if _, err := sdk.OpenBody(body, other); !errors.Is(err, sdk.ErrStaleBase) {
		t.Fatalf("another base: %v, want ErrStaleBase", err)
	}
	var w map[string]any
	_ = json.Unmarshal(body, &w)
	w["hash"] = delta.Sum{}.String() // the leader names a cluster the delta does not make
	forged, _ := json.Marshal(w)
	if _, err := sdk.OpenBody(forged, base); !errors.Is(err, sdk.ErrStaleBase) {
		t.Fatalf("wrong sum: %v, want ErrStaleBase", err)
	}
	if _, err := sdk.OpenBody(body, nil, base); err != nil {
		t.Fatalf("the right base second: %v", err)
	}
}

func TestOpenBody_DeltaPayloadsAreValidated(t *testing.T) {
	c := cluster{pods: map[string]payload.Payload{"a": pod(1, true)}}
	tr := delta.NewTracker()
	b := c.bodies(t, tr)
	first, _, _ := b.Body("a")
	base, _ := sdk.OpenBody(first)
	b.Accepted("a")
	bad := pod(2, true)
	bad["ip"] = "not an address; rm -rf /"
	c.pods["b"] = bad
	body, isDelta, _ := c.bodies(t, tr).Body("a")
	if !isDelta {
		t.Fatal("want a delta")
	}
	if _, err := sdk.OpenBody(body, base); !errors.Is(err, sdk.ErrBadCluster) {
		t.Fatalf("an invalid payload in a delta: %v, want ErrBadCluster", err)
	}
}

func TestOpenBody_KeepsNoReferenceToTheBody(t *testing.T) {
	c := cluster{pods: map[string]payload.Payload{"a": pod(1, true), "b": pod(2, true)}}
	body, _, _ := c.bodies(t, delta.NewTracker()).Body("a")
	e, err := sdk.OpenBody(body)
	if err != nil {
		t.Fatal(err)
	}
	sum := e.Sum()
	want := clusterOf(t, c.whole(t, "a"))
	for i := range body { // the control server reuses its buffers
		body[i] = ' '
	}
	if got := clusterOf(t, e); !reflect.DeepEqual(got, want) || e.Sum() != sum {
		t.Fatalf("the envelope changed with the body it came from: %+v", got)
	}
}

// DESIGN §7, hand-over: a new leader guesses every pod's base from its own pod's (Tracker.Guess). The pods the
// guessed cluster holds get deltas against it that rebuild the whole cluster; a pod that joined after it gets
// the whole cluster; a pod whose base differs refuses (ErrStaleBase, 412) and gets the whole cluster; a base
// the new leader learned itself is not overwritten by a guess.
func TestTracker_GuessSeedsTheBasesOfThePodsItHolds(t *testing.T) {
	c := cluster{pods: map[string]payload.Payload{"lead": pod(0, true), "a": pod(1, true), "b": pod(2, true), "orig": pod(3, false)},
		deps: map[string]map[string]payload.Payload{"db": {"d": pod(9, false)}}}
	old := delta.NewTracker() // the leader before
	b := c.bodies(t, old)
	bases := map[string]*sdk.Envelope{}
	for _, key := range slices.Sorted(maps.Keys(c.pods)) {
		body, _, err := b.Body(key)
		if err != nil {
			t.Fatal(err)
		}
		if bases[key], err = sdk.OpenBody(body); err != nil {
			t.Fatal(err)
		}
	}
	pods, deps := bases["a"].Entries()                                                      // the new leader's own pod's base, as the lifecycle answers GetBase
	bases["b"] = cluster{pods: map[string]payload.Payload{"b": pod(2, true)}}.whole(t, "b") // b missed that phase

	delete(c.pods, "lead") // the old leader left; a pod joined
	c.pods["new"] = pod(4, true)
	tr := delta.NewTracker()
	tr.Guess(pods, deps)
	tr.Guess(map[string][]byte{}, nil) // no base: no guess
	b = c.bodies(t, tr)
	want := clusterOf(t, c.whole(t, "a"))
	for key, wantDelta := range map[string]bool{"a": true, "b": true, "new": false, "orig": false} {
		body, isDelta, err := b.Body(key)
		if err != nil || isDelta != wantDelta {
			t.Fatalf("%s: delta %v (%v), want %v", key, isDelta, err, wantDelta)
		}
		got, err := sdk.OpenBody(body, bases[key])
		if key == "b" {
			if !errors.Is(err, sdk.ErrStaleBase) {
				t.Fatalf("b, whose base differs: %v, want ErrStaleBase", err)
			}
			b.Refused(key)
			if body, isDelta, _ = b.Body(key); isDelta {
				t.Fatal("b got a delta again after 412")
			}
			got, err = sdk.OpenBody(body, bases[key])
		}
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		gc := clusterOf(t, got)
		if !reflect.DeepEqual(gc.Pods, want.Pods) || !reflect.DeepEqual(gc.Dependencies, want.Dependencies) {
			t.Fatalf("%s rebuilt %+v\nwant %+v", key, gc, want)
		}
		if isDelta && len(body) > 600 {
			t.Fatalf("%s: a delta of %d bytes for one pod in and one out: %s", key, len(body), body)
		}
		b.Accepted(key)
	}
	learned := c.bodies(t, tr).Sum()
	tr.Guess(pods, deps) // a late guess: the bases the leader learned stay
	if body, isDelta, _ := c.bodies(t, tr).Body("a"); !isDelta || !bytes.Contains(body, []byte(`"base":"`+learned.String())) {
		t.Fatalf("a late guess replaced a learned base: %s", body)
	}
}
