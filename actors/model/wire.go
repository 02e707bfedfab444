package model

import (
	"encoding/json"
	"fmt"

	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// WireOf turns a cluster as read from ZooKeeper (pod payloads, the dependencies' snapshots) into the body of
// check, on and ok (DESIGN §7), without the key: the leader's phases and `ochopod ctl` send the same.
func WireOf(pods, deps map[string]json.RawMessage) (sdk.Wire, error) {
	w := sdk.Wire{Pods: map[string]payload.Payload{}, Dependencies: map[string]map[string]payload.Payload{}}
	for k, raw := range pods {
		p, err := payload.Parse(raw)
		if err != nil {
			return sdk.Wire{}, fmt.Errorf("pod %s: %w", k, err)
		}
		w.Pods[k] = p
	}
	for name, raw := range deps {
		var snap map[string]payload.Payload
		if err := json.Unmarshal(raw, &snap); err != nil {
			return sdk.Wire{}, fmt.Errorf("snapshot of %s: %w", name, err)
		}
		if snap == nil {
			snap = map[string]payload.Payload{}
		}
		w.Dependencies[name] = snap
	}
	return w, nil
}
