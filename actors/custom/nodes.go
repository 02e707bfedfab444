package custom

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Nodes are a leader-scope actor's own nodes: <cluster's node>/actors/<name> and the nodes under it. Every
// write goes in one multi that first checks the leader's lock node, as the model's writes do (zk.Fenced,
// DESIGN §7): once the pod lost the lock, nothing it sends is written, even a write already on its way.
type Nodes struct {
	conn zk.Conn
	lock string
	dir  string
}

// NewNodes are the nodes of the actor name of cluster, written on conn fenced by lock.
func NewNodes(conn zk.Conn, lock string, cluster zk.Cluster, name string) *Nodes {
	return &Nodes{conn: conn, lock: lock, dir: Dir(cluster, name)}
}

// Dir is the node of the custom actor name of cluster.
func Dir(cluster zk.Cluster, name string) string { return cluster.Path() + "/actors/" + name }

// Lock is the lock node the writes are fenced by.
func (n *Nodes) Lock() string { return n.lock }

// Path is the node rel names: "" is the actor's node, "a/b" a node under it. A rel that climbs out of it
// (".."), is absolute, or is not a clean path is an error.
func (n *Nodes) Path(rel string) (string, error) {
	if rel == "" {
		return n.dir, nil
	}
	if strings.HasPrefix(rel, "/") || path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../") || strings.Contains(rel, "\x00") {
		return "", fmt.Errorf("custom: %q is not a node under %s", rel, n.dir)
	}
	return n.dir + "/" + rel, nil
}

// writeTries bounds Write's loop: a conflict is a node created or deleted between the look and the write,
// which only this leader's own earlier writes do, so one more try is enough.
const writeTries = 3

// Write sets the node rel to data (persistent), creating it and the nodes above it up to the cluster's node
// as needed, in one multi fenced by the lock: zk.ErrFenced once the pod no longer holds it. It blocks on
// ZooKeeper: call it from a task (host.Context.Go), or use Set.
func (n *Nodes) Write(rel string, data []byte) error {
	p, err := n.Path(rel)
	if err != nil {
		return err
	}
	if data == nil {
		data = []byte{} // DESIGN §3: bytes, never null data
	}
	for range writeTries {
		var ops []zk.Op
		if ops, err = n.ops(p, data); err == nil {
			_, err = zk.Fenced(n.conn, n.lock, ops...)
		}
		if err == nil || errors.Is(err, zk.ErrFenced) || !(errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrNoNode)) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("custom: write %s: %w", p, err)
	}
	return nil
}

// ops creates what is missing from the actors/ node down to p, and sets p if it is there.
func (n *Nodes) ops(p string, data []byte) ([]zk.Op, error) {
	ok, _, err := n.conn.Exists(p)
	if err != nil {
		return nil, err
	}
	if ok {
		return []zk.Op{zk.SetOp{Path: p, Data: data, Version: zk.AnyVersion}}, nil
	}
	var missing []string
	for cur := path.Dir(p); cur != path.Dir(path.Dir(n.dir)); cur = path.Dir(cur) {
		ok, _, err := n.conn.Exists(cur)
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		missing = append(missing, cur)
	}
	ops := make([]zk.Op, 0, len(missing)+1)
	for i := len(missing) - 1; i >= 0; i-- {
		ops = append(ops, zk.CreateOp{Path: missing[i], Data: []byte{}, Mode: zk.Persistent})
	}
	return append(ops, zk.CreateOp{Path: p, Data: data, Mode: zk.Persistent}), nil
}

// Read returns the data of the node rel.
func (n *Nodes) Read(rel string) ([]byte, error) {
	p, err := n.Path(rel)
	if err != nil {
		return nil, err
	}
	data, _, err := n.conn.Get(p)
	if err != nil {
		return nil, fmt.Errorf("custom: read %s: %w", p, err)
	}
	return data, nil
}

// Set writes rel off the actor (a task of ctx) and tells the actor a *v1.NodeWritten carrying epoch, whose
// failure is of kind fenced when the pod no longer held the lock. Writes of one actor may overlap: one in
// flight at a time keeps a later write from being overtaken by an earlier one.
func (n *Nodes) Set(ctx host.Context, epoch uint64, rel string, data []byte) {
	p, err := n.Path(rel)
	if err != nil {
		ctx.Send(ctx.Self(), &v1.NodeWritten{Epoch: epoch, Path: rel, Failure: protocol.Failure(err)})
		return
	}
	ctx.Go("write "+p, func(t host.Task) {
		t.Tell(&v1.NodeWritten{Epoch: epoch, Path: p, Failure: protocol.Failure(n.Write(rel, data))})
	})
}
