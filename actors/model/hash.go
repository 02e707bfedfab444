package model

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Hash is the MD5 of the canonical JSON (keys sorted) of the pods and the dependencies' snapshots, written in
// the original's readable form: hex bytes joined by colons (DESIGN §2). Payloads are compared as JSON values,
// so the spacing or key order a writer used does not matter.
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

// ResolveDependencies turns depends_on (DESIGN §7) into qualified cluster names, sorted: "db" means
// "<namespace>.db", "/ns.db" is absolute, and '*' and '?' are wildcards matched against the known clusters
// (zero or more matches). The pod's own cluster is never a dependency.
func ResolveDependencies(namespace, own string, dependsOn, clusters []string) []string {
	seen := map[string]bool{}
	for _, d := range dependsOn {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		q := namespace + "." + d
		if strings.HasPrefix(d, "/") {
			q = strings.TrimPrefix(d, "/")
		}
		if !strings.ContainsAny(q, "*?[") {
			seen[q] = true
			continue
		}
		for _, c := range clusters {
			if ok, err := path.Match(q, c); err == nil && ok {
				seen[c] = true
			}
		}
	}
	delete(seen, own)
	out := make([]string, 0, len(seen))
	for q := range seen {
		out = append(out, q)
	}
	sort.Strings(out)
	return out
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
