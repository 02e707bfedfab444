package zkmem

import (
	"fmt"
	"path"
	"sort"

	"github.com/ochopod/ochopod/runtime/zk"
)

// znode is one node of the tree. pzxid is the zxid of the last change of its child list, which ZooKeeper
// keeps in its stat (the port's Stat leaves it out); reconnection uses it to decide which child watches fire.
// created counts the children ever created under the node: it is ZooKeeper's internal cversion, the source
// of sequence numbers, while the cversion a Stat reports counts deletions too (ZooKeeper reports
// 2*created - numChildren).
type znode struct {
	data     []byte
	stat     zk.Stat
	pzxid    int64
	created  int32
	children map[string]struct{}
}

// childNames lists a node's children sorted by name (the documented deterministic order).
func (n *znode) childNames() []string {
	names := make([]string, 0, len(n.children))
	for c := range n.children {
		names = append(names, c)
	}
	sort.Strings(names)
	return names
}

// event is a watch trigger produced by a write, on a server path.
type event struct {
	typ  zk.EventType
	path string
}

// txn applies writes to the tree and can undo them, which is how a Multi is all or nothing. Every write
// (a single call, a Multi, the close or expiry of a session) runs in one txn under one zxid.
type txn struct {
	nodes  map[string]*znode
	zxid   int64
	undo   []func()
	events []event
	ops    []CommitOp
}

func (x *txn) rollback() {
	for i := len(x.undo) - 1; i >= 0; i-- {
		x.undo[i]()
	}
	x.undo, x.events, x.ops = nil, nil, nil
}

func parentOf(p string) string { return path.Dir(p) }

// copyData never returns nil: like the real server behind our adapter, a node holds bytes, never null data
// (DESIGN §3), and reads back as an empty, non-nil slice.
func copyData(b []byte) []byte {
	return append([]byte{}, b...)
}

// create follows the checks of ZooKeeper's PrepRequestProcessor in its order: path, parent, name (with the
// sequence from the count of children ever created under the parent), existence, ephemeral parent.
func (x *txn) create(p string, data []byte, mode zk.CreateMode, owner int64) (string, error) {
	if mode < zk.Persistent || mode > zk.EphemeralSequential {
		return "", fmt.Errorf("%w: unknown create mode %d", zk.ErrBadArguments, mode)
	}
	check := p
	if mode.Sequential() {
		check = p + "1" // ZooKeeper validates a sequential path with a digit appended: "/a/" is allowed
	}
	if err := zk.ValidatePath(check); err != nil {
		return "", err
	}
	if p == "/" && !mode.Sequential() {
		return "", zk.ErrNodeExists
	}
	parentPath := path.Dir(check)
	parent, ok := x.nodes[parentPath]
	if !ok {
		return "", zk.ErrNoNode
	}
	name := p
	if mode.Sequential() {
		name = fmt.Sprintf("%s%0*d", p, zk.SequenceDigits, parent.created)
	}
	if _, ok := x.nodes[name]; ok {
		return "", zk.ErrNodeExists
	}
	if parent.stat.EphemeralOwner != 0 {
		return "", zk.ErrNoChildrenForEphemerals
	}
	n := &znode{
		data:     copyData(data),
		pzxid:    x.zxid,
		children: map[string]struct{}{},
		stat: zk.Stat{
			Czxid:      x.zxid,
			Mzxid:      x.zxid,
			DataLength: int32(len(data)),
		},
	}
	if mode.IsEphemeral() {
		n.stat.EphemeralOwner = owner
	}
	base := path.Base(name)
	oldStat, oldPzxid := parent.stat, parent.pzxid
	x.nodes[name] = n
	parent.children[base] = struct{}{}
	parent.created++
	parent.stat.Cversion++
	parent.stat.NumChildren++
	parent.pzxid = x.zxid
	x.undo = append(x.undo, func() {
		delete(x.nodes, name)
		delete(parent.children, base)
		parent.created--
		parent.stat, parent.pzxid = oldStat, oldPzxid
	})
	x.events = append(x.events, event{zk.EventNodeCreated, name}, event{zk.EventNodeChildrenChanged, parentPath})
	x.ops = append(x.ops, CommitOp{Op: OpCreate, Path: name})
	return name, nil
}

// remove follows ZooKeeper's order of checks: path, existence, version, children.
func (x *txn) remove(p string, version int32) error {
	if err := zk.ValidatePath(p); err != nil {
		return err
	}
	if p == "/" {
		return fmt.Errorf("%w: the root cannot be deleted", zk.ErrBadArguments)
	}
	n, ok := x.nodes[p]
	if !ok {
		return zk.ErrNoNode
	}
	if version != zk.AnyVersion && version != n.stat.Version {
		return zk.ErrBadVersion
	}
	if len(n.children) > 0 {
		return zk.ErrNotEmpty
	}
	parentPath := parentOf(p)
	parent := x.nodes[parentPath]
	base := path.Base(p)
	oldStat, oldPzxid := parent.stat, parent.pzxid
	delete(x.nodes, p)
	delete(parent.children, base)
	parent.stat.Cversion++
	parent.stat.NumChildren--
	parent.pzxid = x.zxid
	x.undo = append(x.undo, func() {
		x.nodes[p] = n
		parent.children[base] = struct{}{}
		parent.stat, parent.pzxid = oldStat, oldPzxid
	})
	x.events = append(x.events, event{zk.EventNodeDeleted, p}, event{zk.EventNodeChildrenChanged, parentPath})
	x.ops = append(x.ops, CommitOp{Op: OpDelete, Path: p})
	return nil
}

func (x *txn) set(p string, data []byte, version int32) (zk.Stat, error) {
	if err := zk.ValidatePath(p); err != nil {
		return zk.Stat{}, err
	}
	n, ok := x.nodes[p]
	if !ok {
		return zk.Stat{}, zk.ErrNoNode
	}
	if version != zk.AnyVersion && version != n.stat.Version {
		return zk.Stat{}, zk.ErrBadVersion
	}
	oldData, oldStat := n.data, n.stat
	n.data = copyData(data)
	n.stat.Version++
	n.stat.Mzxid = x.zxid
	n.stat.DataLength = int32(len(data))
	x.undo = append(x.undo, func() { n.data, n.stat = oldData, oldStat })
	x.events = append(x.events, event{zk.EventNodeDataChanged, p})
	x.ops = append(x.ops, CommitOp{Op: OpSet, Path: p})
	return n.stat, nil
}

func (x *txn) check(p string, version int32) error {
	if err := zk.ValidatePath(p); err != nil {
		return err
	}
	n, ok := x.nodes[p]
	if !ok {
		return zk.ErrNoNode
	}
	if version != zk.AnyVersion && version != n.stat.Version {
		return zk.ErrBadVersion
	}
	return nil
}
