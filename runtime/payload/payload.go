// Package payload is the pod's registration payload (DESIGN §3): the flat JSON object each pod writes into its
// node under pods/, and that leaders, dependents and tools read. Unknown keys are kept, so bindings and newer
// or older pods can add their own.
package payload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
)

// Payload is one pod's registration: a JSON object. Values are whatever JSON holds (string, float64, bool,
// map[string]any, []any, nil); the accessors below read the well-known keys.
type Payload map[string]any

// Well-known keys.
const (
	KeyCluster     = "cluster"
	KeyNamespace   = "namespace"
	KeyBinding     = "binding"
	KeyApplication = "application"
	KeyTask        = "task"
	KeyNode        = "node"
	KeyIP          = "ip"
	KeyPublic      = "public"
	KeyPort        = "port"
	KeyPorts       = "ports"
	KeySeq         = "seq"
	KeyZK          = "zk"
	KeyDebug       = "debug"
	KeyLocal       = "local"
	KeyStatus      = "status"
	KeyScheme      = "scheme" // "https" when the control port serves TLS (DESIGN §12); absent: http
)

// Parse reads a payload. Anything but a JSON object is an error, so garbage written under pods/ by a foreign
// tool is reported instead of half-read.
func Parse(data []byte) (Payload, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var p Payload
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("payload is not a JSON object: %w", err)
	}
	if p == nil {
		return nil, fmt.Errorf("payload is not a JSON object: null")
	}
	if dec.More() {
		return nil, fmt.Errorf("payload has trailing data after the JSON object")
	}
	for k, v := range p {
		p[k] = fromNumber(v)
	}
	return p, nil
}

// fromNumber turns json.Number into int64 where exact and float64 otherwise, recursively, so integers such
// as seq and host ports survive a round trip unchanged.
func fromNumber(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = fromNumber(x)
		}
	case []any:
		for i, x := range v {
			v[i] = fromNumber(x)
		}
	}
	return v
}

// Marshal writes the payload as compact JSON with sorted keys.
func (p Payload) Marshal() ([]byte, error) {
	b, err := json.Marshal(map[string]any(p))
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return b, nil
}

// Clone copies the payload (one level deep: values are not shared mutably by the project's own code).
func (p Payload) Clone() Payload { return maps.Clone(p) }

// DeepClone copies the payload and every object and array inside it, for a holder that may mutate it.
func (p Payload) DeepClone() Payload {
	if p == nil {
		return nil
	}
	return Payload(deepCopy(map[string]any(p)).(map[string]any))
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case Payload:
		return Payload(deepCopy(map[string]any(v)).(map[string]any))
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v // strings, numbers, booleans and nil are values
}

// With returns a copy with key set to v.
func (p Payload) With(key string, v any) Payload {
	c := p.Clone()
	if c == nil {
		c = Payload{}
	}
	c[key] = v
	return c
}

// String reads a string value; numbers and booleans are formatted, missing keys give "".
func (p Payload) String(key string) string {
	switch v := p[key].(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// Int reads an integer value, accepting numbers and numeric strings; ok is false otherwise.
func (p Payload) Int(key string) (int64, bool) {
	switch v := p[key].(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case float64:
		if v == float64(int64(v)) {
			return int64(v), true
		}
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

// Seq is the pod's seq, if present.
func (p Payload) Seq() (int64, bool) { return p.Int(KeySeq) }

// Ports is the port mapping: container port (as a string) to host port.
func (p Payload) Ports() map[string]int64 {
	out := map[string]int64{}
	m, _ := p[KeyPorts].(map[string]any)
	for k, v := range m {
		if n, ok := (Payload{"v": v}).Int("v"); ok {
			out[k] = n
		}
	}
	if m2, ok := p[KeyPorts].(map[string]int64); ok {
		maps.Copy(out, m2)
	}
	if m3, ok := p[KeyPorts].(map[string]int); ok {
		for k, v := range m3 {
			out[k] = int64(v)
		}
	}
	return out
}
