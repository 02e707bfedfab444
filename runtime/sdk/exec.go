package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
)

// Exec is the lifecycle of `ochopod run -- command` without a spec (DESIGN §11): it runs the command. The
// cluster reaches it through its environment, as it reaches every process the runtime starts (ClusterEnv).
type Exec struct {
	Argv []string
}

// Configure returns the command, whatever the cluster.
func (e Exec) Configure(context.Context, *Cluster) (Command, error) {
	if len(e.Argv) == 0 {
		return Command{}, errors.New("no command to run: give one after --")
	}
	return Command{Argv: append([]string(nil), e.Argv...)}, nil
}

// ClusterEnv is the environment DESIGN §11 gives the command: OCHOPOD_KEY, OCHOPOD_SEQ, OCHOPOD_INDEX,
// OCHOPOD_SIZE, OCHOPOD_PODS (the cluster's registration payloads sorted by key, each with "key" added) and
// OCHOPOD_DEPENDENCIES (qualified cluster name -> its payloads, same form).
func ClusterEnv(c *Cluster) (map[string]string, error) {
	pods, err := json.Marshal(withKeys(c.Pods))
	if err != nil {
		return nil, err
	}
	deps := map[string][]map[string]any{}
	for name, ps := range c.Dependencies {
		deps[name] = withKeys(ps)
	}
	depsJSON, err := json.Marshal(deps)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"OCHOPOD_KEY":          c.Key,
		"OCHOPOD_SEQ":          strconv.FormatInt(c.Seq, 10),
		"OCHOPOD_INDEX":        strconv.Itoa(c.Index),
		"OCHOPOD_SIZE":         strconv.Itoa(c.Size),
		"OCHOPOD_PODS":         string(pods),
		"OCHOPOD_DEPENDENCIES": string(depsJSON),
	}, nil
}

func withKeys(pods []Pod) []map[string]any {
	out := make([]map[string]any, 0, len(pods))
	for _, p := range pods {
		m := make(map[string]any, len(p.Payload)+1)
		for k, v := range p.Payload {
			m[k] = v
		}
		m["key"] = p.Key
		out = append(out, m)
	}
	return out
}
