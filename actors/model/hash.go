package model

import (
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"sort"
	"strings"

	"github.com/ochopod/ochopod/runtime/sdk"
)

// Hash is the hash of the pods and the dependencies' snapshots (DESIGN §2): sdk.Hash, which pods compute too.
func Hash(pods map[string]json.RawMessage, deps map[string]json.RawMessage) (string, error) {
	return sdk.Hash(pods, deps)
}

// ResolveDependencies turns depends_on (DESIGN §7) into qualified cluster names, sorted: "db" means
// "<namespace>.db", "/ns.db" is absolute, and '*' and '?' are wildcards matched against the known clusters
// (zero or more matches). The pod's own cluster is never a dependency.
func ResolveDependencies(namespace, own string, dependsOn, clusters []string) []string {
	seen := map[string]bool{}
	for _, d := range dependsOn {
		for _, q := range matches(namespace, own, d, clusters) {
			seen[q] = true
		}
	}
	out := make([]string, 0, len(seen))
	for q := range seen {
		out = append(out, q)
	}
	sort.Strings(out)
	return out
}

// matches lists, sorted, the qualified names of the clusters one depends_on entry names, own left out.
func matches(namespace, own, entry string, clusters []string) []string {
	d := strings.TrimSpace(entry)
	if d == "" {
		return nil
	}
	q := namespace + "." + d
	if strings.HasPrefix(d, "/") {
		q = strings.TrimPrefix(d, "/")
	}
	if !strings.ContainsAny(q, "*?[") {
		if q == own {
			return nil
		}
		return []string{q}
	}
	var out []string
	for _, c := range clusters {
		if ok, err := path.Match(q, c); err == nil && ok && c != own {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// DeclaredDependencies keys the dependencies as depends_on declares them, as the original does (DESIGN §11):
// "db", "/prod.db", "pbase-*" -> one JSON object (pod key -> payload) holding the pods of every cluster the
// entry matches, merged; {} when it matches none or no snapshot is there yet. snaps holds the snapshot of
// each cluster ResolveDependencies named. A pod key found in two clusters keeps the payload of the last
// cluster in name order.
func DeclaredDependencies(namespace, own string, dependsOn, clusters []string, snaps map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(dependsOn))
	for _, d := range dependsOn {
		name := strings.TrimSpace(d)
		if name == "" {
			continue
		}
		qs := matches(namespace, own, name, clusters)
		if len(qs) == 1 && snaps[qs[0]] != nil {
			out[name] = snaps[qs[0]] // one cluster: its snapshot as it is
			continue
		}
		merged := map[string]json.RawMessage{}
		for _, q := range qs {
			var pods map[string]json.RawMessage
			if raw := snaps[q]; raw != nil {
				if err := json.Unmarshal(raw, &pods); err != nil {
					return nil, fmt.Errorf("snapshot of %s: %w", q, err)
				}
			}
			maps.Copy(merged, pods)
		}
		b, err := json.Marshal(merged)
		if err != nil {
			return nil, fmt.Errorf("dependency %s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

// ReadHash is the hash the model computes over what it read (DESIGN §7): the pods, and the snapshots of
// the clusters depended on (qualified name -> snapshot) keyed as cfg's depends_on declares them.
func ReadHash(cfg MachineConfig, pods, snaps map[string]json.RawMessage, clusters []string) (string, error) {
	declared, err := DeclaredDependencies(cfg.Namespace, cfg.Cluster.Qualified, cfg.DependsOn, clusters, snaps)
	if err != nil {
		return "", err
	}
	return Hash(pods, declared)
}

// HasWildcard reports whether any dependency needs the list of clusters.
func HasWildcard(dependsOn []string) bool {
	for _, d := range dependsOn {
		if strings.ContainsAny(d, "*?[") {
			return true
		}
	}
	return false
}
