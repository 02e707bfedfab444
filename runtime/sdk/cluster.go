package sdk

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ochopod/ochopod/runtime/payload"
)

// Pod is one pod of a cluster: its key and registration payload.
type Pod struct {
	Key     string
	Payload payload.Payload
}

// Cluster is what a pod knows of its cluster during a configuration phase (DESIGN §2, §7).
type Cluster struct {
	Key   string // this pod's key
	Seq   int64  // this pod's seq, stable for its life
	Index int    // this pod's rank among the pods sorted by key
	Size  int    // how many pods
	Pods  []Pod  // the cluster, sorted by key
	// Dependencies: each depends_on entry as declared ("db", "/prod.db", "pbase-*") -> the pods, as last
	// configured, of every cluster it matches, sorted by key (DESIGN §11; the original keys them the same).
	Dependencies map[string][]Pod
}

// Wire is the JSON the leader sends with check, on and ok (the original's shape, kept for compatibility).
type Wire struct {
	Pods         map[string]payload.Payload            `json:"pods"`
	Dependencies map[string]map[string]payload.Payload `json:"dependencies"`
	Key          string                                `json:"key"`
}

// ParseCluster reads the leader's JSON. The key must be one of the pods.
func ParseCluster(body []byte) (*Cluster, error) {
	e, err := OpenEnvelope(body)
	if err != nil {
		return nil, err
	}
	return e.Cluster()
}

// FromWire builds the Cluster of w.Key.
func FromWire(w Wire) (*Cluster, error) {
	_, ok := w.Pods[w.Key]
	if err := checkKey(w.Key, len(w.Pods), ok); err != nil {
		return nil, err
	}
	deps := map[string][]Pod{}
	for name, pods := range w.Dependencies {
		deps[name] = sortedPods(pods)
	}
	return newCluster(w.Key, sortedPods(w.Pods), deps), nil
}

func checkKey(key string, pods int, among bool) error {
	if key == "" {
		return fmt.Errorf("cluster: no key")
	}
	if !among {
		return fmt.Errorf("cluster: key %q is not among the %d pods", key, pods)
	}
	return nil
}

// newCluster is the Cluster of key; it keeps pods (sorted by key) and deps as they are.
func newCluster(key string, pods []Pod, deps map[string][]Pod) *Cluster {
	c := &Cluster{Key: key, Pods: pods, Dependencies: deps}
	c.Size = len(c.Pods)
	for i, p := range c.Pods {
		if p.Key == key {
			c.Index = i
			c.Seq, _ = p.Payload.Seq()
		}
	}
	return c
}

func sortedPods(m map[string]payload.Payload) []Pod {
	out := make([]Pod, 0, len(m))
	for k, v := range m {
		if v == nil {
			v = payload.Payload{}
		}
		out = append(out, Pod{Key: k, Payload: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Clone is a deep copy: each holder of a cluster (a callback may keep it) gets one of its own.
func (c *Cluster) Clone() *Cluster {
	if c == nil {
		return nil
	}
	out := *c
	out.Pods = clonePods(c.Pods)
	out.Dependencies = make(map[string][]Pod, len(c.Dependencies))
	for name, pods := range c.Dependencies {
		out.Dependencies[name] = clonePods(pods)
	}
	return &out
}

func clonePods(pods []Pod) []Pod {
	if pods == nil {
		return nil
	}
	out := make([]Pod, len(pods))
	for i, p := range pods {
		out[i] = Pod{Key: p.Key, Payload: p.Payload.DeepClone()}
	}
	return out
}

// Self is this pod.
func (c *Cluster) Self() Pod { return c.Pods[c.Index] }

// Grep lists "ip:port" for every pod of the dependency (see Dependency; "" for this pod's own cluster)
// that exposes the container port, in key order, with the host port it is mapped to. With public, the public
// address is used instead of the internal one. Pods not exposing the port are left out.
func (c *Cluster) Grep(dependency string, port int, public bool) []string {
	pods := c.Pods
	if dependency != "" {
		pods = c.Dependency(dependency)
	}
	addrKey := payload.KeyIP
	if public {
		addrKey = payload.KeyPublic
	}
	var out []string
	for _, p := range pods {
		host, ok := p.Payload.Ports()[strconv.Itoa(port)]
		if !ok {
			continue
		}
		out = append(out, p.Payload.String(addrKey)+":"+strconv.FormatInt(host, 10))
	}
	return out
}

// Dependency is the pods of a dependency, sorted by key: the depends_on entry of that name as declared
// ("db", "/prod.db", "pbase-*"); else, for one cluster among the entries' pods, by the namespace and
// cluster in their payloads: "db" in this pod's namespace, "/prod.db" or "prod.db" qualified (a wildcard's
// single match, or the qualified names this SDK used before it keyed dependencies as declared).
func (c *Cluster) Dependency(name string) []Pod {
	if pods, ok := c.Dependencies[name]; ok {
		return pods
	}
	var wants []string
	if abs, ok := strings.CutPrefix(name, "/"); ok {
		wants = []string{abs}
	} else {
		if len(c.Pods) > 0 {
			if ns := c.Self().Payload.String(payload.KeyNamespace); ns != "" {
				wants = append(wants, ns+"."+name)
			}
		}
		wants = append(wants, name)
	}
	for _, want := range wants {
		found := map[string]Pod{}
		for _, pods := range c.Dependencies {
			for _, p := range pods {
				if p.Payload.String(payload.KeyNamespace)+"."+p.Payload.String(payload.KeyCluster) == want {
					found[p.Key] = p
				}
			}
		}
		if len(found) > 0 {
			out := make([]Pod, 0, len(found))
			for _, p := range found {
				out = append(out, p)
			}
			sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
			return out
		}
	}
	return nil
}
