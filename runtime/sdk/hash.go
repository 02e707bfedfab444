package sdk

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"strings"
)

// Hash is the MD5 of the canonical JSON (keys sorted) of the pods and the dependencies' snapshots, written in
// the original's readable form: hex bytes joined by colons (DESIGN §2). Payloads are compared as JSON values,
// so the spacing or key order a writer used does not matter. The leader's model writes it; a pod computes it
// over the cluster it was configured with (Envelope.Hash).
func Hash(pods map[string]json.RawMessage, deps map[string]json.RawMessage) (string, error) {
	doc := map[string]any{"pods": decodeAll(pods), "dependencies": decodeAll(deps)}
	b, err := json.Marshal(doc) // encoding/json sorts map keys: canonical
	if err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	sum := md5.Sum(b)
	parts := make([]string, len(sum))
	for i, x := range sum {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":"), nil
}

func decodeAll(m map[string]json.RawMessage) map[string]any {
	out := make(map[string]any, len(m))
	for k, raw := range m {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			v = string(raw) // not JSON: hash its bytes as a string, still deterministic
		}
		out[k] = v
	}
	return out
}

// Hash is the hash of the envelope's cluster (DESIGN §2), as the leader computes it over the same pods and
// dependencies.
func (e *Envelope) Hash() (string, error) {
	if e == nil {
		return Hash(nil, nil)
	}
	pods, deps := make(map[string]json.RawMessage, e.pods.Len()), make(map[string]json.RawMessage, e.deps.Len())
	for k, raw := range e.pods.all() {
		pods[k] = raw
	}
	for name, raw := range e.deps.all() {
		deps[name] = raw
	}
	return Hash(pods, deps)
}
