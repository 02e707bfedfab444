package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
)

// ReadCluster reads what the model decides on: the pods of its cluster (through pods, which reads each
// complete pod once; nil reads them all), the snapshots of its dependencies, the hash, and the cluster list
// (for wildcards). Nodes that do not fit the layout are skipped with a warning.
func ReadCluster(c zk.Conn, cfg MachineConfig, pods *cluster.PodReader, gen uint64, log *slog.Logger) *v1.ClusterRead {
	return readCluster(c, cfg, pods, gen, log, nil)
}

// readCluster is ReadCluster, telling podsRead, when not nil, the pods as soon as they are read: before the
// dependencies, the hash and the pause, which take the read a few round trips more.
func readCluster(c zk.Conn, cfg MachineConfig, pods *cluster.PodReader, gen uint64, log *slog.Logger, podsRead func(map[string][]byte)) *v1.ClusterRead {
	out := &v1.ClusterRead{Generation: gen, Pods: map[string][]byte{}, Dependencies: map[string][]byte{}}
	fail := func(err error) *v1.ClusterRead {
		out.Failure = protocol.Failure(err)
		return out
	}
	if HasWildcard(cfg.DependsOn) {
		names, err := cluster.List(c)
		if err != nil {
			return fail(err)
		}
		out.Clusters = names
	}
	registered, skipped, err := pods.Read(c, cfg.Cluster)
	if err != nil {
		return fail(err)
	}
	for _, s := range skipped {
		log.Warn("skipping a node under pods/", "path", s.Path, "reason", s.Reason)
	}
	// A key registered twice (an old session not yet expired, or a node reusing a live pod's key): the node
	// created last, by the newest live session, is the pod (DESIGN §12), and the other is named in the log.
	newest := map[string]string{}
	for _, p := range registered {
		if p.Registering { // not a pod yet: watched until it writes its seq (ClusterRead.pending)
			out.Pending = append(out.Pending, path.Join(cfg.Cluster.Pods(), p.Node))
			continue
		}
		if prev, ok := newest[p.Key]; ok {
			keep, drop := p.Node, prev
			if seqOf(prev) > seqOf(p.Node) {
				keep, drop = prev, p.Node
			}
			log.Warn("one key, two pod nodes: the newest is the pod", "key", p.Key, "kept", keep, "ignored", drop)
			if keep == prev {
				continue
			}
		}
		newest[p.Key] = p.Node
		body, err := p.Payload.With("seq", p.Seq).Marshal()
		if err != nil {
			return fail(err)
		}
		out.Pods[p.Key] = body
	}
	if podsRead != nil {
		podsRead(out.Pods)
	}
	for _, dep := range ResolveDependencies(cfg.Namespace, cfg.Cluster.Qualified, cfg.DependsOn, out.Clusters) {
		data, _, err := c.Get(zk.Cluster{Qualified: dep}.Snapshot())
		switch {
		case errors.Is(err, zk.ErrNoNode):
			out.Dependencies[dep] = []byte("null")
		case err != nil:
			return fail(err)
		default:
			valid, skipped, ok := pods.Snapshot(dep, data)
			if !ok {
				log.Warn("ignoring a snapshot that is not a JSON object", "cluster", dep)
				valid = []byte("null")
			}
			for _, s := range skipped { // DESIGN §12
				log.Warn("skipping an invalid pod of a dependency's snapshot", "cluster", dep, "path", s.Path, "reason", s.Reason)
			}
			out.Dependencies[dep] = valid
		}
	}
	hash, st, err := c.Get(cfg.Cluster.Hash())
	switch {
	case errors.Is(err, zk.ErrNoNode):
		out.HashVersion = zk.AnyVersion
	case err != nil:
		return fail(err)
	default:
		out.HashVersion = st.Version
	}
	out.Hash = string(hash)
	if out.Paused, _, err = c.Exists(cfg.Cluster.Paused()); err != nil {
		return fail(err)
	}
	return out
}

// WriteConfiguration writes snapshot and hash in one multi fenced by the lock node (DESIGN §7 step 4): a
// deposed leader's write fails whole, and the hash is compare-and-set on the version read with the cluster, so
// a stale writer of the same lock fails too. The snapshot is this session's ephemeral node; one left by
// another session (the previous leader's, not yet expired) is replaced so that it does not vanish with it.
// With an entry (a phase's write, not a clean snapshot's), the same multi appends it to the history through
// h: a cluster configured is never missing from its history (a session lost between two writes lost it).
func WriteConfiguration(c zk.Conn, cl zk.Cluster, lock string, gen uint64, pods map[string]json.RawMessage, hash string, hashVersion int32, h *HistoryLog, entry *HistoryEntry) *v1.Written {
	out := &v1.Written{Generation: gen}
	snapshot, err := json.Marshal(pods)
	if err != nil {
		out.Failure = protocol.Failure(err)
		return out
	}
	if err := zk.EnsurePath(c, cl.Hash()); err != nil {
		out.Failure = protocol.Failure(err)
		return out
	}
	var ops []zk.Op
	ok, st, err := c.Exists(cl.Snapshot())
	switch {
	case err != nil:
		out.Failure = protocol.Failure(err)
		return out
	case ok && st.EphemeralOwner == c.SessionID():
		ops = append(ops, zk.SetOp{Path: cl.Snapshot(), Data: snapshot, Version: st.Version})
	case ok:
		ops = append(ops, zk.DeleteOp{Path: cl.Snapshot(), Version: st.Version},
			zk.CreateOp{Path: cl.Snapshot(), Data: snapshot, Mode: zk.Ephemeral})
	default:
		ops = append(ops, zk.CreateOp{Path: cl.Snapshot(), Data: snapshot, Mode: zk.Ephemeral})
	}
	ops = append(ops, zk.SetOp{Path: cl.Hash(), Data: []byte(hash), Version: hashVersion})
	if h != nil && entry != nil {
		err = h.appendWith(*entry, ops...)
	} else {
		_, err = zk.Fenced(c, lock, ops...)
	}
	if err != nil {
		out.Failure = protocol.Failure(fmt.Errorf("write %s and %s: %w", cl.Snapshot(), cl.Hash(), err))
	}
	return out
}

// seqOf is a pod node's sequence (-1 if its name has none; ReadPods lists only names that do).
func seqOf(node string) int64 {
	if _, seq, ok := zk.ParseSequential(node); ok {
		return seq
	}
	return -1
}

// historyTries bounds the compare-and-set loop of a history write: only the leader writes the node, so a
// conflict is a node changed behind our back (by hand, or a predecessor's write finishing late), and one more
// try after reading it again is enough.
const historyTries = 3

// HistoryLog appends phases to a cluster's history node for the holder of one lock (DESIGN §13), in multis
// fenced by the lock and compare-and-set on the node's version, keeping the last cluster.HistoryLimit entries.
// It remembers the node as it last wrote it: only the lock's holder writes it, so a phase's write needs no
// read first (its phase would wait one more round trip); a write that finds another version reads it again,
// so two writes in flight together never lose each other's entry. No lock is held across a ZooKeeper call:
// the simulation runs the actor's tasks as coroutines of one goroutine. A node that does not parse is
// started again rather than left to block the history forever.
type HistoryLog struct {
	c      zk.Conn
	cl     zk.Cluster
	lock   string
	leader string

	mu   sync.Mutex
	last historyNode // as last read or written; a hint, the version decides
}

// historyNode is the history node as seen at one version.
type historyNode struct {
	known   bool            // the fields below were read or written
	exists  bool            // the node was there
	version int32           // its version
	phases  []cluster.Phase // its entries, oldest first; never appended to in place
}

// NewHistoryLog is the history of cl as the leader of key, holding lock, writes it.
func NewHistoryLog(c zk.Conn, cl zk.Cluster, lock, leader string) *HistoryLog {
	return &HistoryLog{c: c, cl: cl, lock: lock, leader: leader}
}

// Append appends e alone (a phase that failed: nothing else to write).
func (h *HistoryLog) Append(e HistoryEntry) error {
	if err := h.appendWith(e); err != nil {
		return fmt.Errorf("write %s: %w", h.cl.History(), err)
	}
	return nil
}

// appendWith appends e in one fenced multi with ops, which succeed or fail with it.
func (h *HistoryLog) appendWith(e HistoryEntry, ops ...zk.Op) error {
	p := cluster.Phase{At: time.UnixMilli(e.EndedUnixMs).UTC().Format(cluster.TimeFormat), Leader: h.leader, Lock: path.Base(h.lock),
		Hash: e.Hash, Pods: e.Pods, Outcome: e.Outcome, DurationMs: e.DurationMs, Dropped: e.Dropped}
	var err error
	for range historyTries {
		h.mu.Lock()
		base := h.last
		h.mu.Unlock()
		if !base.known {
			if base, err = h.read(); err != nil {
				return err
			}
		}
		next := historyNode{known: true, exists: true, phases: cluster.AppendHistory(slices.Clone(base.phases), p)}
		var body []byte
		if body, err = json.Marshal(next.phases); err != nil {
			return err
		}
		op := zk.Op(zk.CreateOp{Path: h.cl.History(), Data: body, Mode: zk.Persistent})
		if base.exists {
			op = zk.SetOp{Path: h.cl.History(), Data: body, Version: base.version}
			next.version = base.version + 1
		}
		var res []zk.OpResult
		res, err = zk.Fenced(h.c, h.lock, append(slices.Clone(ops), op)...)
		h.mu.Lock()
		if err == nil {
			h.last = next
		} else {
			h.last.known = false
		}
		h.mu.Unlock()
		if err == nil {
			return nil
		}
		if at := len(ops) + 1; len(res) <= at || !historyConflict(res[at].Err) { // res[0] is the fence
			return err
		}
	}
	return err
}

// read reads the node as it is now.
func (h *HistoryLog) read() (historyNode, error) {
	data, st, err := h.c.Get(h.cl.History())
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return historyNode{known: true}, nil
	case err != nil:
		return historyNode{}, fmt.Errorf("read %s: %w", h.cl.History(), err)
	}
	phases, err := cluster.ParseHistory(data)
	if err != nil {
		phases = nil
	}
	return historyNode{known: true, exists: true, version: st.Version, phases: phases}, nil
}

// historyConflict: the history op failed because the node is not as remembered.
func historyConflict(err error) bool {
	return errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrNoNode)
}
