package sdk

import (
	"encoding/json"
	"errors"
	"fmt"

	fastjson "github.com/segmentio/encoding/json"

	"github.com/ochopod/ochopod/runtime/payload"
)

// ErrBadCluster marks an error caused by the cluster a request carried, not by the pod: a payload that breaks
// the rules of DESIGN §12, or data a template cannot render. The control API answers 400 and the pod lives;
// a Lifecycle's Configure wraps it (with %w) for such errors so that someone else's bad input does not kill
// the pod.
var ErrBadCluster = errors.New("bad cluster")

// named is what DESIGN §12 rules on in a payload: read alone, it costs a fraction of parsing the payload.
type named struct {
	IP     any `json:"ip"`
	Public any `json:"public"`
	Port   any `json:"port"`
	Ports  any `json:"ports"`
	Seq    any `json:"seq"`
}

// validRaw applies payload.Validate to a payload as the leader sent it (JSON, an object or null).
func validRaw(raw json.RawMessage) error {
	var n named
	if fastjson.Unmarshal(raw, &n) != nil {
		n = named{}
		if err := json.Unmarshal(raw, &n); err != nil {
			return fmt.Errorf("%w: %w", payload.ErrInvalid, err)
		}
	}
	p := payload.Payload{}
	for k, v := range map[string]any{payload.KeyIP: n.IP, payload.KeyPublic: n.Public, payload.KeyPort: n.Port, payload.KeyPorts: n.Ports, payload.KeySeq: n.Seq} {
		if v != nil {
			p[k] = v
		}
	}
	return payload.Validate(p, payload.NoNode)
}

// validCluster checks every payload of a body, the pods' and the dependencies', by DESIGN §12.
func validCluster(pods map[string]json.RawMessage, deps map[string]map[string]json.RawMessage) error {
	for key, raw := range pods {
		if err := validRaw(raw); err != nil {
			return fmt.Errorf("cluster: %w: pod %q: %w", ErrBadCluster, key, err)
		}
	}
	for name, ps := range deps {
		for key, raw := range ps {
			if err := validRaw(raw); err != nil {
				return fmt.Errorf("cluster: %w: dependency %q, pod %q: %w", ErrBadCluster, name, key, err)
			}
		}
	}
	return nil
}
