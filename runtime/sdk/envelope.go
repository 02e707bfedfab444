package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"

	fastjson "github.com/segmentio/encoding/json"

	"github.com/ochopod/ochopod/runtime/payload"
)

// Envelope is the leader's JSON (Wire) checked whole but read only as far as most requests need: the key,
// which must be one of the pods, and the dependencies. The pods' payloads stay raw until Cluster parses them.
// A phase sends the same cluster with check, on and ok, and at hundreds of pods parsing every payload costs
// a pod a millisecond or more, which a pod whose process keeps running does not need to spend.
type Envelope struct {
	key     string
	pods    map[string]json.RawMessage
	deps    map[string][]Pod
	cluster *Cluster // parsed on first use, never handed out
}

// ErrNotJSON is wrapped by OpenEnvelope (and ParseCluster) when the body is not JSON at all, as opposed to JSON
// that is not a cluster: the control API answers the first 400.
var ErrNotJSON = errors.New("not JSON")

// notJSON is encoding/json's error, in its own words, that is also ErrNotJSON.
type notJSON struct{ err error }

func (e notJSON) Error() string   { return e.err.Error() }
func (e notJSON) Unwrap() []error { return []error{ErrNotJSON, e.err} }

// OpenEnvelope checks body as ParseCluster does: JSON, a key among the pods, every payload an object that
// passes payload.Validate (an invalid one is ErrBadCluster).
func OpenEnvelope(body []byte) (*Envelope, error) {
	type wire struct {
		Pods         map[string]json.RawMessage            `json:"pods"`
		Dependencies map[string]map[string]payload.Payload `json:"dependencies"`
		Key          string                                `json:"key"`
	}
	var w wire
	// segmentio's decoder, a drop-in for encoding/json's: every pod reads the whole cluster with every phase,
	// and it does so about five times faster (BenchmarkCluster). On an error, encoding/json has the last word
	// and says what is wrong in the words users know.
	if fastjson.Unmarshal(body, &w) != nil {
		w = wire{}
		if err := json.Unmarshal(body, &w); err != nil {
			if !json.Valid(body) {
				err = notJSON{err}
			}
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	_, among := w.Pods[w.Key]
	if err := checkKey(w.Key, len(w.Pods), among); err != nil {
		return nil, err
	}
	for key, raw := range w.Pods {
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] != '{' && string(t) != "null" {
			return nil, fmt.Errorf("cluster: the payload of pod %q is not a JSON object", key)
		}
	}
	if err := validCluster(w.Pods, w.Dependencies); err != nil { // DESIGN §12: hostile until valid
		return nil, err
	}
	e := &Envelope{key: w.Key, pods: w.Pods, deps: map[string][]Pod{}}
	for name, pods := range w.Dependencies {
		e.deps[name] = sortedPods(pods)
	}
	return e, nil
}

// Key is the key of the pod the cluster was sent to.
func (e *Envelope) Key() string { return e.key }

// DependencyNames lists the dependencies as depends_on declares them, sorted.
func (e *Envelope) DependencyNames() []string {
	names := make([]string, 0, len(e.deps))
	for name := range e.deps {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// SameDependencies tells whether both envelopes carry the same dependencies, payload for payload; a nil
// envelope has none in common with anything.
func (e *Envelope) SameDependencies(o *Envelope) bool {
	if e == nil || o == nil {
		return false
	}
	if len(e.deps) == 0 && len(o.deps) == 0 {
		return true
	}
	return reflect.DeepEqual(e.deps, o.deps)
}

// Cluster parses the payloads (the first time) and returns a copy of its own to each caller; nil for a nil
// envelope.
func (e *Envelope) Cluster() (*Cluster, error) {
	if e == nil {
		return nil, nil
	}
	if e.cluster == nil {
		pods := make(map[string]payload.Payload, len(e.pods))
		for key, raw := range e.pods {
			var p payload.Payload
			if fastjson.Unmarshal(raw, &p) != nil { // as in OpenEnvelope, encoding/json has the last word
				p = nil
				if err := json.Unmarshal(raw, &p); err != nil {
					return nil, fmt.Errorf("cluster: pod %q: %w", key, err)
				}
			}
			pods[key] = p
		}
		e.cluster = newCluster(e.key, pods, e.deps)
	}
	return e.cluster.Clone(), nil
}
