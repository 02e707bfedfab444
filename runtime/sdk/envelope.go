package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	fastjson "github.com/segmentio/encoding/json"

	"github.com/ochopod/ochopod/runtime/delta"
	"github.com/ochopod/ochopod/runtime/payload"
)

// Envelope is the leader's JSON (Wire) checked whole but kept as sent, read only as far as most requests
// need: the key, which must be one of the pods, and the dependencies' names. A phase sends the same cluster
// with check, on and ok, and at hundreds of pods parsing every payload costs a pod a millisecond or more,
// which a pod whose process keeps running does not need to spend.
//
// A pod keeps up to three envelopes between phases (its last configuration's, its delta base, the last one
// opened), so an envelope holds its payloads as sent, in one block of memory: a parsed cluster is about 20
// times the size of its JSON (DESIGN §12: memory bounded by the body). Cluster parses them for each caller.
//
// An envelope always holds a whole cluster: one opened from a delta body (DESIGN §7) was rebuilt from its
// base before anything could see it.
type Envelope struct {
	key  string
	pods entries    // the payloads as sent, by pod key
	deps entries    // the dependencies' entries as sent ({key: payload}), by name as depends_on declares them
	sum  *delta.Sum // the cluster's sum: as the leader named it, or computed when first asked
}

// ErrNotJSON is wrapped by OpenEnvelope (and ParseCluster) when the body is not JSON at all, as opposed to JSON
// that is not a cluster: the control API answers the first 400.
var ErrNotJSON = errors.New("not JSON")

// ErrStaleBase is wrapped by OpenBody when a delta body's base is none of the clusters the pod holds, or the
// cluster it rebuilt does not have the sum the leader named: the pod answers 412, and the leader sends the
// whole cluster (DESIGN §7).
var ErrStaleBase = errors.New("delta against a cluster this pod does not hold")

// notJSON is encoding/json's error, in its own words, that is also ErrNotJSON.
type notJSON struct{ err error }

func (e notJSON) Error() string   { return e.err.Error() }
func (e notJSON) Unwrap() []error { return []error{ErrNotJSON, e.err} }

// body is a control body as sent: a whole cluster, or with Base a delta.
type body struct {
	Pods         map[string]json.RawMessage `json:"pods"`
	Dependencies map[string]json.RawMessage `json:"dependencies"`
	Key          string                     `json:"key"`
	Base         string                     `json:"base"`
	Hash         string                     `json:"hash"`
	Gone         []string                   `json:"gone"`
}

// OpenEnvelope checks body as ParseCluster does: JSON, a key among the pods, every payload an object that
// passes payload.Validate (an invalid one is ErrBadCluster). A delta body is ErrStaleBase: see OpenBody.
func OpenEnvelope(data []byte) (*Envelope, error) { return OpenBody(data) }

// OpenBody opens a control body: a whole cluster, or a delta (DESIGN §7) against one of bases (nil ones are
// skipped), rebuilt into the whole cluster and checked against the sum the leader named. Without a matching
// base, or when the rebuilt cluster's sum differs, the error wraps ErrStaleBase.
func OpenBody(data []byte, bases ...*Envelope) (*Envelope, error) {
	var w body
	// segmentio's decoder, a drop-in for encoding/json's: every pod reads the whole cluster with every phase,
	// and it does so about five times faster (BenchmarkCluster). On an error, encoding/json has the last word
	// and says what is wrong in the words users know.
	if fastjson.Unmarshal(data, &w) != nil {
		w = body{}
		if err := json.Unmarshal(data, &w); err != nil {
			if !json.Valid(data) {
				err = notJSON{err}
			}
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	for key, raw := range w.Pods {
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] != '{' && string(t) != "null" {
			return nil, fmt.Errorf("cluster: the payload of pod %q is not a JSON object", key)
		}
	}
	deps, err := parseDependencies(w.Dependencies, w.Base != "")
	if err != nil {
		return nil, err
	}
	if err := validCluster(w.Pods, deps); err != nil { // DESIGN §12: hostile until valid
		return nil, err
	}
	var e *Envelope
	if w.Base != "" {
		if e, err = rebuild(w, deps, bases); err != nil {
			return nil, err
		}
	} else {
		e = &Envelope{key: w.Key}
		if e.pods, err = entriesOf(w.Pods); err == nil {
			e.deps, err = entriesOf(w.Dependencies)
		}
		if err != nil {
			return nil, err
		}
		if w.Hash != "" {
			if s, err := delta.ParseSum(w.Hash); err == nil {
				e.sum = &s
			}
		}
	}
	_, among := e.pods.get(e.key)
	if err := checkKey(e.key, e.pods.Len(), among); err != nil {
		return nil, err
	}
	return e, nil
}

// parseDependencies reads the dependencies' entries, each pod's payload as sent (validCluster checks them as
// it checks the pods', without parsing them whole: Cluster does that for whoever asks); in a delta, null is
// an entry the cluster no longer has (kept as a nil map), elsewhere an empty one.
func parseDependencies(raw map[string]json.RawMessage, isDelta bool) (map[string]map[string]json.RawMessage, error) {
	deps := make(map[string]map[string]json.RawMessage, len(raw))
	for name, r := range raw {
		pods, err := entryMembers(r)
		if err != nil {
			return nil, fmt.Errorf("cluster: dependency %q: %w", name, err)
		}
		if pods == nil && !isDelta {
			pods = map[string]json.RawMessage{}
		}
		deps[name] = pods
	}
	return deps, nil
}

// entryMembers reads a dependency's entry: its pods' payloads as sent (JSON objects or null) by key, nil
// for null.
func entryMembers(raw []byte) (map[string]json.RawMessage, error) {
	// Made here, as decodePayload's map: segmentio makes a nil one with room for 64 members.
	members := map[string]json.RawMessage{}
	if fastjson.Unmarshal(raw, &members) != nil { // as in OpenBody, encoding/json has the last word
		members = nil
		if err := json.Unmarshal(raw, &members); err != nil {
			return nil, err
		}
	}
	for key, m := range members {
		if t := bytes.TrimSpace(m); len(t) > 0 && t[0] != '{' && string(t) != "null" {
			return nil, fmt.Errorf("the payload of pod %q is not a JSON object", key)
		}
	}
	return members, nil
}

// parseEntry reads a dependency's entry: its pods' payloads by key, nil for null.
func parseEntry(raw []byte) (map[string]payload.Payload, error) {
	members, err := entryMembers(raw)
	if err != nil || members == nil {
		return nil, err
	}
	pods := make(map[string]payload.Payload, len(members))
	for key, m := range members {
		p, err := decodePayload(m)
		if err != nil {
			return nil, err
		}
		pods[key] = p
	}
	return pods, nil
}

// decodePayload reads one pod's payload, nil for null. The map is made here: segmentio's decoder makes the
// ones it is not given with room for 64 members (5 KB). A payload's members take 16 bytes of JSON or more
// (`ochopod run` registers 16 in about 300), so the hint is one member per 16 bytes, up to 16 (1.2 KB): up
// to 8 members, the map is Go's small one (336 B). A pod pays it for every pod of every body it parses
// (BenchmarkCluster/parse: 1.41 → 0.67 MB a 200-pod body; the 10 000-pod simulation allocated 20 GB of its
// 29 there).
func decodePayload(raw []byte) (payload.Payload, error) {
	p := make(payload.Payload, min(len(raw)/16, 16))
	if fastjson.Unmarshal(raw, &p) != nil { // as in OpenBody, encoding/json has the last word
		p = nil
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// rebuild applies the delta w to the base it names: the whole cluster, or ErrStaleBase.
func rebuild(w body, deps map[string]map[string]json.RawMessage, bases []*Envelope) (*Envelope, error) {
	want, err := delta.ParseSum(w.Hash)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	baseSum, err := delta.ParseSum(w.Base)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	var base *Envelope
	for _, b := range bases {
		if b != nil && b.Sum() == baseSum {
			base = b
			break
		}
	}
	if base == nil {
		return nil, fmt.Errorf("cluster: %w: base %s", ErrStaleBase, w.Base)
	}
	sum := baseSum
	gone := make(map[string]bool, len(w.Gone))
	for _, k := range w.Gone {
		if old, ok := base.pods.get(k); ok && !gone[k] {
			sum = sum.Sub(delta.Entry(delta.KindPod, k, old))
			gone[k] = true
		}
	}
	for k, raw := range w.Pods {
		if old, ok := base.pods.get(k); ok && !gone[k] {
			sum = sum.Sub(delta.Entry(delta.KindPod, k, old))
		}
		sum = sum.Add(delta.Entry(delta.KindPod, k, raw))
	}
	var depsGone []string
	depsSet := make(map[string]json.RawMessage, len(w.Dependencies))
	for name, raw := range w.Dependencies {
		if old, ok := base.deps.get(name); ok {
			sum = sum.Sub(delta.Entry(delta.KindDependency, name, old))
		}
		if deps[name] == nil { // null: gone
			depsGone = append(depsGone, name)
			continue
		}
		sum = sum.Add(delta.Entry(delta.KindDependency, name, raw))
		depsSet[name] = raw
	}
	if sum != want {
		return nil, fmt.Errorf("cluster: %w: the rebuilt cluster is %s, the leader's %s", ErrStaleBase, sum, w.Hash)
	}
	e := &Envelope{key: w.Key, sum: &sum}
	if e.pods, err = base.pods.update(w.Pods, w.Gone); err == nil {
		e.deps, err = base.deps.update(depsSet, depsGone)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Sum names the envelope's cluster for delta bodies (runtime/delta): as the leader named it, else computed
// over the payloads and entries as sent. The zero Sum for a nil envelope.
func (e *Envelope) Sum() delta.Sum {
	if e == nil {
		return delta.Sum{}
	}
	if e.sum == nil {
		var s delta.Sum
		for k, raw := range e.pods.all() {
			s = s.Add(delta.Entry(delta.KindPod, k, raw))
		}
		for name, raw := range e.deps.all() {
			s = s.Add(delta.Entry(delta.KindDependency, name, raw))
		}
		e.sum = &s
	}
	return *e.sum
}

// Entries are the cluster as sent (for delta bodies, DESIGN §7): each pod's payload and each dependency's
// entry, JSON bytes, copies; empty maps for a nil envelope.
func (e *Envelope) Entries() (pods, deps map[string][]byte) {
	if e == nil {
		return map[string][]byte{}, map[string][]byte{}
	}
	pods, deps = make(map[string][]byte, e.pods.Len()), make(map[string][]byte, e.deps.Len())
	for k, raw := range e.pods.all() {
		pods[k] = bytes.Clone(raw)
	}
	for name, raw := range e.deps.all() {
		deps[name] = bytes.Clone(raw)
	}
	return pods, deps
}

// Key is the key of the pod the cluster was sent to.
func (e *Envelope) Key() string { return e.key }

// DependencyNames lists the dependencies as depends_on declares them, sorted.
func (e *Envelope) DependencyNames() []string {
	names := make([]string, 0, e.deps.Len())
	for name := range e.deps.all() {
		names = append(names, name)
	}
	return names
}

// dependencies parses the dependencies' entries: each one's pods sorted by key, none for null.
func (e *Envelope) dependencies() (map[string][]Pod, error) {
	out := make(map[string][]Pod, e.deps.Len())
	for name, raw := range e.deps.all() {
		pods, err := parseEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("cluster: dependency %q: %w", name, err)
		}
		out[name] = sortedPods(pods)
	}
	return out, nil
}

// SameDependencies tells whether both envelopes carry the same dependencies, payload for payload; a nil
// envelope has none in common with anything.
func (e *Envelope) SameDependencies(o *Envelope) bool {
	if e == nil || o == nil {
		return false
	}
	if e.deps.equal(o.deps) {
		return true
	}
	mine, err := e.dependencies()
	if err != nil {
		return false
	}
	theirs, err := o.dependencies()
	if err != nil {
		return false
	}
	if len(mine) == 0 && len(theirs) == 0 {
		return true
	}
	return reflect.DeepEqual(mine, theirs) // the same values sent by another leader in another order
}

// Cluster parses the payloads into a new cluster for each caller, kept by nobody else; nil for a nil
// envelope.
func (e *Envelope) Cluster() (*Cluster, error) {
	if e == nil {
		return nil, nil
	}
	pods := make([]Pod, 0, e.pods.Len())
	for key, raw := range e.pods.all() {
		p, err := decodePayload(raw)
		if err != nil {
			return nil, fmt.Errorf("cluster: pod %q: %w", key, err)
		}
		if p == nil {
			p = payload.Payload{}
		}
		pods = append(pods, Pod{Key: key, Payload: p})
	}
	deps, err := e.dependencies()
	if err != nil {
		return nil, err
	}
	return newCluster(e.key, pods, deps), nil
}
