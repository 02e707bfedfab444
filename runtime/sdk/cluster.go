package sdk

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/ochopod/ochopod/runtime/payload"
)

// Pod is one pod of a cluster: its key and registration payload.
type Pod struct {
	Key     string
	Payload payload.Payload
}

// Cluster is what a pod knows of its cluster during a configuration phase (DESIGN §2, §7).
type Cluster struct {
	Key          string           // this pod's key
	Seq          int64            // this pod's seq, stable for its life
	Index        int              // this pod's rank among the pods sorted by key
	Size         int              // how many pods
	Pods         []Pod            // the cluster, sorted by key
	Dependencies map[string][]Pod // qualified cluster name -> its pods as last configured, sorted by key
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
	return newCluster(w.Key, w.Pods, deps), nil
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

// newCluster is the Cluster of key; it keeps deps as they are.
func newCluster(key string, pods map[string]payload.Payload, deps map[string][]Pod) *Cluster {
	c := &Cluster{Key: key, Pods: sortedPods(pods), Dependencies: deps}
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

// Grep lists "ip:port" for every pod of the dependency (a qualified cluster name; "" for this pod's own
// cluster) that exposes the container port, in key order, with the host port it is mapped to. With public,
// the public address is used instead of the internal one. Pods not exposing the port are left out.
func (c *Cluster) Grep(dependency string, port int, public bool) []string {
	pods := c.Pods
	if dependency != "" {
		pods = c.Dependencies[dependency]
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
