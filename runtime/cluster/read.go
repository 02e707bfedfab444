// Package cluster reads what ZooKeeper holds about clusters (DESIGN §3): their pods with registration payloads,
// and the clusters of a namespace. Nodes that do not fit the layout (foreign names, non-JSON payloads) are
// skipped and reported, never fatal: ZooKeeper is shared, and one bad node must not stop a cluster.
package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"

	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Pod is one registered pod.
type Pod struct {
	Key     string
	Node    string // the node's name under pods/
	Seq     int64  // from the payload, else the node's sequence
	Payload payload.Payload
	// Registering: the payload holds no seq yet, or the node no payload at all (the original's pods create
	// it empty): the pod has not finished registering, and Seq is the node's sequence.
	Registering bool
	// Owner is the session that created the node (Stat.EphemeralOwner): the lock's lowest contender of the
	// same session is this pod's, whatever the contender's name or data (DESIGN §14).
	Owner int64
}

// Skipped is a node that was passed over, and why.
type Skipped struct {
	Path   string
	Reason string
}

// ReadPods lists the live pods of c, sorted by key (DESIGN §2: the index is the rank by key). A pod that
// vanishes between the listing and the read is left out silently: it left.
func ReadPods(conn zk.Conn, c zk.Cluster) ([]Pod, []Skipped, error) {
	return (*PodReader)(nil).Read(conn, c)
}

// PodReader is ReadPods for a reader that reads the same cluster again and again (the leader, at every
// change): a pod writes its node's payload at most twice, at the create and with its seq (DESIGN §3), so a
// payload that holds the seq is final, and the reader reads it once. A node skipped (a foreign name, an
// invalid payload) is reported by the first Read that sees it only, so the leader warns once per node. A nil *PodReader remembers nothing. Its
// Read calls must not overlap.
type PodReader struct {
	final  map[string]Pod  // by node name: the pods read complete
	bad    map[string]bool // by node name: the complete pods found invalid, reported once (DESIGN §12)
	warned map[string]bool // the snapshots' invalid payloads reported, by cluster, key and reason
}

// Read is ReadPods, reading only the nodes it has not seen complete.
func (r *PodReader) Read(conn zk.Conn, c zk.Cluster) ([]Pod, []Skipped, error) {
	names, _, err := conn.Children(c.Pods())
	if err != nil {
		if errors.Is(err, zk.ErrNoNode) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("list %s: %w", c.Pods(), err)
	}
	var pods []Pod
	var skipped []Skipped
	var nodes []zk.PodNode
	var paths []string
	final, bad := map[string]Pod{}, map[string]bool{}
	for _, name := range names {
		p := path.Join(c.Pods(), name)
		node, err := zk.ParsePodNode(name)
		if err != nil {
			if r == nil || !r.bad[name] {
				skipped = append(skipped, Skipped{Path: p, Reason: "not a pod node name"})
			}
			bad[name] = true
			continue
		}
		if r != nil {
			if pod, ok := r.final[name]; ok {
				pods, final[name] = append(pods, pod), pod
				continue
			}
			if r.bad[name] { // skipped and reported already: a payload with its seq is final
				bad[name] = true
				continue
			}
		}
		nodes, paths = append(nodes, node), append(paths, p)
	}
	for i, r := range zk.GetAll(conn, paths) { // at hundreds of pods, one round trip instead of hundreds
		if errors.Is(r.Err, zk.ErrNoNode) {
			continue
		}
		if r.Err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", paths[i], r.Err)
		}
		pod := Pod{Key: nodes[i].Key, Node: path.Base(paths[i]), Seq: nodes[i].Seq, Payload: payload.Payload{}, Registering: true,
			Owner: r.Stat.EphemeralOwner}
		if len(bytes.TrimSpace(r.Data)) > 0 {
			pl, err := payload.Parse(r.Data)
			if err != nil { // final too: a pod's writes are whole JSON objects
				skipped, bad[pod.Node] = append(skipped, Skipped{Path: paths[i], Reason: err.Error()}), true
				continue
			}
			pod.Payload = pl
			if _, ok := pl[payload.KeySeq]; ok { // else registered a moment ago: the seq is written right after the create
				// DESIGN §12: a complete payload is hostile until valid; an invalid one is skipped, never fatal.
				if err := payload.Validate(pl, nodes[i].Seq); err != nil {
					skipped, bad[pod.Node] = append(skipped, Skipped{Path: paths[i], Reason: err.Error()}), true
					continue
				}
				pod.Seq, _ = pl.Seq()
				pod.Registering = false
			}
		}
		pods = append(pods, pod)
		if !pod.Registering {
			final[pod.Node] = pod
		}
	}
	if r != nil {
		r.final, r.bad = final, bad // nodes gone are forgotten
	}
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Key != pods[j].Key {
			return pods[i].Key < pods[j].Key
		}
		return pods[i].Node < pods[j].Node
	})
	return pods, skipped, nil
}

// List returns the qualified names of every cluster registered under the root, sorted.
func List(conn zk.Conn) ([]string, error) {
	names, _, err := conn.Children(zk.Root)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", zk.Root, err)
	}
	sort.Strings(names)
	return names, nil
}

// Leader returns the key-less contender id holding c's lock, or "" when nobody does.
func Leader(conn zk.Conn, c zk.Cluster) (string, error) {
	names, _, err := conn.Children(c.Coordinator())
	if errors.Is(err, zk.ErrNoNode) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("list %s: %w", c.Coordinator(), err)
	}
	contenders, _ := zk.SortContenders(names)
	if len(contenders) == 0 {
		return "", nil
	}
	return contenders[0].ID, nil
}

// Snapshot reads a dependency's snapshot (DESIGN §3: key -> payload, as last configured) as the leader passes
// it on: the payloads that break the rules of DESIGN §12 are left out and reported, each by the first call
// that sees it when r remembers (the leader reads snapshots at every change). ok is false when data is not a
// JSON object at all.
func (r *PodReader) Snapshot(dep string, data []byte) (out []byte, skipped []Skipped, ok bool) {
	var pods map[string]json.RawMessage
	if json.Unmarshal(data, &pods) != nil || pods == nil {
		return nil, nil, false
	}
	dropped := false
	for key, raw := range pods {
		reason := ""
		switch p, err := payload.Parse(raw); {
		case bytes.Equal(bytes.TrimSpace(raw), []byte("null")):
			continue // an original pod still registering when its leader configured
		case err != nil:
			reason = err.Error()
		default:
			if err := payload.Validate(p, payload.NoNode); err != nil {
				reason = err.Error()
			}
		}
		if reason == "" {
			continue
		}
		delete(pods, key)
		dropped = true
		id := dep + "/" + key + ": " + reason
		if r != nil {
			if r.warned == nil || len(r.warned) > 10000 { // bounded: a writer churning keys costs WARNs, not memory
				r.warned = map[string]bool{}
			}
			if r.warned[id] {
				continue
			}
			r.warned[id] = true
		}
		skipped = append(skipped, Skipped{Path: zk.Cluster{Qualified: dep}.Snapshot() + "#" + key, Reason: reason})
	}
	if !dropped {
		return data, nil, true
	}
	out, err := json.Marshal(pods)
	if err != nil {
		return nil, skipped, false
	}
	return out, skipped, true
}
