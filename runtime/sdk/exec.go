package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/ochopod/ochopod/runtime/payload"
)

// Exec is the lifecycle of `ochopod run -- command` without a spec (DESIGN §11): it runs the command. The
// cluster reaches it through its environment, as it reaches every process the runtime starts (ClusterEnv).
type Exec struct {
	Argv []string
}

var _ ClusterBlind = Exec{}

// IgnoresCluster makes Exec a ClusterBlind lifecycle.
func (Exec) IgnoresCluster() {}

// Configure returns the command, whatever the cluster (nil, as a ClusterBlind lifecycle gets).
func (e Exec) Configure(context.Context, *Cluster) (Command, error) {
	if len(e.Argv) == 0 {
		return Command{}, errors.New("no command to run: give one after --")
	}
	return Command{Argv: append([]string(nil), e.Argv...)}, nil
}

// ClusterEnv is the environment DESIGN §11 gives the command: OCHOPOD_KEY, OCHOPOD_SEQ, OCHOPOD_INDEX,
// OCHOPOD_SIZE, OCHOPOD_PODS (the cluster's registration payloads sorted by key, each with "key" added) and
// OCHOPOD_DEPENDENCIES (each depends_on entry as declared -> the payloads of the clusters it matches, same form).
func ClusterEnv(c *Cluster) (map[string]string, error) {
	vars, _, err := clusterVars(c.Key, c.Seq, c.Index, parsedPods(c.Pods), c.Dependencies, 0)
	return vars, err
}

// FittedClusterEnv is ClusterEnv less the variables Fit drops (named in dropped, sorted), which it does not
// write past the size of one environment string: a spec pod's hooks take it at each callback, and writing
// OCHOPOD_PODS of a 3 700-pod cluster (a 1 MiB body) only to drop it cost 23 ms and 10 MB of garbage a
// callback, against 2.6 ms and 1.3 MB (go test -run '^$' -bench ClusterEnv -benchmem ./runtime/sdk/).
func FittedClusterEnv(c *Cluster) (vars map[string]string, dropped []string, err error) {
	vars, cut, err := clusterVars(c.Key, c.Seq, c.Index, parsedPods(c.Pods), c.Dependencies, MaxEnvString)
	if err != nil {
		return nil, nil, err
	}
	dropped = append(Fit(vars), cut...)
	slices.Sort(dropped)
	return vars, dropped, nil
}

// parsedPods are pods to write as JSON when needed.
func parsedPods(pods []Pod) []keyed {
	out := make([]keyed, len(pods))
	for i, p := range pods {
		out[i] = keyed{key: p.Key, parsed: p.Payload}
	}
	return out
}

// Env is ClusterEnv of the envelope's cluster without parsing its payloads: OCHOPOD_PODS is spliced from the
// payloads as the leader sent them (each starting a process would otherwise cost a millisecond or more at
// hundreds of pods). With a leader that sends compact JSON with sorted keys, as ours does, the text is the
// same as ClusterEnv's; with another, the same JSON values.
func (e *Envelope) Env() (map[string]string, error) {
	pods := make([]keyed, 0, e.pods.Len())
	index := 0
	for k, raw := range e.pods.all() { // in key order
		if k == e.key {
			index = len(pods)
		}
		pods = append(pods, keyed{key: k, payload: raw})
	}
	var self payload.Payload
	raw, _ := e.pods.get(e.key)
	if err := json.Unmarshal(raw, &self); err != nil {
		return nil, err
	}
	seq, _ := self.Seq()
	deps, err := e.dependencies()
	if err != nil {
		return nil, err
	}
	vars, _, err := clusterVars(e.key, seq, index, pods, deps, 0)
	return vars, err
}

// Environ is Env as KEY=VALUE lines, sorted, without the variables too long for one environment string (see
// ClusterFiles, which also writes them as files); an error becomes OCHOPOD_ERROR.
func (e *Envelope) Environ() []string { return ClusterFiles{}.Environ(e) }

// keyed is one pod's payload as JSON (an object, or null).
type keyed struct {
	key     string
	payload []byte          // as sent
	parsed  payload.Payload // else this, written when needed
}

// clusterVars are the variables of ClusterEnv. With fit > 0, a JSON variable that outgrows fit bytes is left
// out as soon as it does, and named in cut.
func clusterVars(key string, seq int64, index int, pods []keyed, deps map[string][]Pod, fit int) (vars map[string]string, cut []string, err error) {
	vars = map[string]string{
		"OCHOPOD_KEY":   key,
		"OCHOPOD_SEQ":   strconv.FormatInt(seq, 10),
		"OCHOPOD_INDEX": strconv.Itoa(index),
		"OCHOPOD_SIZE":  strconv.Itoa(len(pods)),
	}
	podsJSON, whole, err := withKeys(pods, fit)
	if err != nil {
		return nil, nil, err
	}
	if whole {
		vars["OCHOPOD_PODS"] = string(podsJSON)
	} else {
		cut = append(cut, "OCHOPOD_PODS")
	}
	depsJSON := map[string]json.RawMessage{}
	for name, ps := range deps {
		if depsJSON[name], whole, err = withKeys(parsedPods(ps), fit); err != nil {
			return nil, nil, err
		}
		if !whole {
			return vars, append(cut, "OCHOPOD_DEPENDENCIES"), nil
		}
	}
	depsText, err := json.Marshal(depsJSON)
	if err != nil {
		return nil, nil, err
	}
	vars["OCHOPOD_DEPENDENCIES"] = string(depsText)
	return vars, cut, nil
}

// withKeys is a JSON array of the payloads, in order, each with "key" first; with fit > 0, not whole once it
// outgrows fit bytes.
func withKeys(pods []keyed, fit int) (_ []byte, whole bool, _ error) {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, p := range pods {
		if fit > 0 && b.Len() > fit {
			return nil, false, nil
		}
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeWithKey(&b, p); err != nil {
			return nil, false, err
		}
	}
	b.WriteByte(']')
	return b.Bytes(), true, nil
}

// writeWithKey writes the payload object with "key" spliced in first. A payload that may hold a "key" of
// its own (the text appears in it) is decoded and encoded again, so that ours replaces it.
func writeWithKey(b *bytes.Buffer, p keyed) error {
	k, err := json.Marshal(p.key)
	if err != nil {
		return err
	}
	if p.payload == nil {
		if p.payload, err = json.Marshal(p.parsed); err != nil {
			return err
		}
	}
	body := bytes.TrimSpace(p.payload)
	if string(body) == "null" || len(body) == 0 {
		body = []byte("{}")
	}
	if bytes.Contains(body, []byte(`"key"`)) {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return err
		}
		if m == nil {
			m = map[string]any{}
		}
		m["key"] = p.key
		out, err := json.Marshal(m)
		if err != nil {
			return err
		}
		b.Write(out)
		return nil
	}
	if body[0] != '{' {
		return errors.New("a payload is not a JSON object")
	}
	rest := bytes.TrimSpace(body[1:]) // after '{'
	b.WriteString(`{"key":`)
	b.Write(k)
	if len(rest) > 0 && rest[0] != '}' {
		b.WriteByte(',')
	}
	b.Write(rest)
	return nil
}
