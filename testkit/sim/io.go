package sim

// The adapters' ZooKeeper I/O, call for call. The originals are unexported, so these are copies (minus the
// logging): keep them in step with
//
//	register, deleteStale    actors/session/register.go
//	ensureContender          actors/leader/contender.go
//	readCluster              actors/model/zkio.go
//	writeConfiguration       actors/model/zkio.go (plus the SkipFence switch)
//	holdsLock                actors/model/actor.go (the phase's guard)
//	armWatch                 actors/watchers/watch.go, and the Watch effect of actors/leader/actor.go
//
// Exporting them (e.g. session.Register, leader.EnsureContender, model.ReadCluster, model.WriteConfiguration,
// watchers.Watch taking a tell func) would let the sim run the production code itself.

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"

	"github.com/ochopod/ochopod/actors/model"
	"github.com/ochopod/ochopod/actors/watchers"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	zkcluster "github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/zk"
)

func register(c zk.Conn, cl zk.Cluster, key string, seq int64, hasSeq bool, base payload.Payload) (string, int64, error) {
	for _, p := range []string{cl.Pods(), cl.Coordinator(), cl.Hash()} {
		if err := zk.EnsurePath(c, p); err != nil {
			return "", 0, err
		}
	}
	if err := deleteStale(c, cl, key); err != nil {
		return "", 0, err
	}
	body := base
	if hasSeq {
		body = base.With(payload.KeySeq, seq)
	}
	data, err := body.Marshal()
	if err != nil {
		return "", 0, err
	}
	created, err := c.Create(cl.PodPrefix(key), data, zk.EphemeralSequential)
	if err != nil {
		return "", 0, fmt.Errorf("create pod node: %w", err)
	}
	if hasSeq {
		return created, seq, nil
	}
	_, n, ok := zk.ParseSequential(created)
	if !ok {
		return "", 0, fmt.Errorf("created %q has no sequence", created)
	}
	if data, err = base.With(payload.KeySeq, n).Marshal(); err != nil {
		return "", 0, err
	}
	if _, err := c.Set(created, data, zk.AnyVersion); err != nil {
		return created, n, fmt.Errorf("write seq into %s: %w", created, err)
	}
	return created, n, nil
}

func deleteStale(c zk.Conn, cl zk.Cluster, key string) error {
	children, _, err := c.Children(cl.Pods())
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	for _, name := range children {
		node, err := zk.ParsePodNode(name)
		if err != nil || node.Key != key {
			continue
		}
		p := path.Join(cl.Pods(), name)
		ok, st, err := c.Exists(p)
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if !ok || st.EphemeralOwner == c.SessionID() {
			continue
		}
		if err := c.Delete(p, zk.AnyVersion); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("delete stale %s: %w", p, err)
		}
	}
	return nil
}

func ensureContender(c zk.Conn, dir, id string) (string, error) {
	if err := zk.EnsurePath(c, dir); err != nil {
		return "", err
	}
	children, _, err := c.Children(dir)
	if err != nil {
		return "", fmt.Errorf("list %s: %w", dir, err)
	}
	contenders, _ := zk.SortContenders(children)
	kept := ""
	for _, ct := range contenders {
		if ct.ID != id {
			continue
		}
		p := path.Join(dir, ct.Name)
		ok, st, err := c.Exists(p)
		if err != nil {
			return "", fmt.Errorf("stat %s: %w", p, err)
		}
		if !ok {
			continue
		}
		if st.EphemeralOwner == c.SessionID() && kept == "" {
			kept = p
			continue
		}
		if err := c.Delete(p, zk.AnyVersion); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return "", fmt.Errorf("delete %s: %w", p, err)
		}
	}
	if kept != "" {
		return kept, nil
	}
	created, err := c.Create(path.Join(dir, id+zk.LockMarker), nil, zk.EphemeralSequential)
	if err != nil {
		return "", fmt.Errorf("create contender in %s: %w", dir, err)
	}
	return created, nil
}

func readCluster(c zk.Conn, cfg model.MachineConfig, gen uint64) *v1.ClusterRead {
	out := &v1.ClusterRead{Generation: gen, Pods: map[string][]byte{}, Dependencies: map[string][]byte{}}
	fail := func(err error) *v1.ClusterRead {
		out.Error = err.Error()
		return out
	}
	if model.HasWildcard(cfg.DependsOn) {
		names, err := zkcluster.List(c)
		if err != nil {
			return fail(err)
		}
		out.Clusters = names
	}
	pods, _, err := zkcluster.ReadPods(c, cfg.Cluster)
	if err != nil {
		return fail(err)
	}
	newest := map[string]int64{}
	for _, p := range pods {
		_, nodeSeq, _ := zk.ParseSequential(p.Node)
		if prev, ok := newest[p.Key]; ok && prev > nodeSeq {
			continue
		}
		newest[p.Key] = nodeSeq
		body, err := p.Payload.With("seq", p.Seq).Marshal()
		if err != nil {
			return fail(err)
		}
		out.Pods[p.Key] = body
	}
	for _, dep := range model.ResolveDependencies(cfg.Namespace, cfg.Cluster.Qualified, cfg.DependsOn, out.Clusters) {
		data, _, err := c.Get(zk.Cluster{Qualified: dep}.Snapshot())
		switch {
		case errors.Is(err, zk.ErrNoNode):
			out.Dependencies[dep] = []byte("null")
		case err != nil:
			return fail(err)
		case !isObject(data):
			out.Dependencies[dep] = []byte("null")
		default:
			out.Dependencies[dep] = data
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
	return out
}

func isObject(data []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(data, &m) == nil && m != nil
}

func writeConfiguration(c zk.Conn, cl zk.Cluster, lock string, gen uint64, pods map[string]json.RawMessage, hash string, hashVersion int32, skipFence bool) *v1.Written {
	out := &v1.Written{Generation: gen}
	snapshot, err := json.Marshal(pods)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	if err := zk.EnsurePath(c, cl.Hash()); err != nil {
		out.Error = err.Error()
		return out
	}
	var ops []zk.Op
	ok, st, err := c.Exists(cl.Snapshot())
	switch {
	case err != nil:
		out.Error = err.Error()
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
	if skipFence {
		_, err = c.Multi(ops...) // the broken variant: no check of the lock node
	} else {
		_, err = zk.Fenced(c, lock, ops...)
	}
	if err != nil {
		out.Error = fmt.Sprintf("write %s and %s: %v", cl.Snapshot(), cl.Hash(), err)
		out.Fenced = errors.Is(err, zk.ErrFenced)
	}
	return out
}

// holdsLock is the model adapter's phase guard: the lock node still exists and is this session's.
func holdsLock(c zk.Conn, lock string) error {
	ok, st, err := c.Exists(lock)
	switch {
	case err != nil:
		return fmt.Errorf("cannot check the leader lock %s: %w", lock, err)
	case !ok || st.EphemeralOwner != c.SessionID():
		return fmt.Errorf("%w: the leader lock %s is gone", zk.ErrFenced, lock)
	}
	return nil
}

// armWatch is watchers.watch: make the call, report NodeWatched, and if a watch was set, wait for its event.
func armWatch(t *task, c zk.Conn, e watchers.Arm) {
	var (
		exists bool
		ch     <-chan zk.WatchEvent
		err    error
	)
	switch e.Call {
	case watchers.CallChildren:
		_, _, ch, err = c.ChildrenW(e.Path)
		exists = err == nil
		if errors.Is(err, zk.ErrNoNode) {
			err = nil
		}
	case watchers.CallExists:
		exists, _, ch, err = c.ExistsW(e.Path)
	default:
		err = fmt.Errorf("%w: unknown call %d", zk.ErrBadArguments, e.Call)
	}
	out := &v1.NodeWatched{Generation: e.Generation, Path: e.Path, Exists: exists}
	if err != nil {
		out.Error = fmt.Errorf("%s watch on %s: %w", e.Call, e.Path, err).Error()
	}
	t.tell(out)
	if err != nil || ch == nil {
		return
	}
	t.waitWatch(ch, e.Generation, e.Path)
}

// existsWatch is the leader adapter's Watch effect: ExistsW, NodeWatched, then NodeChanged when it fires.
func existsWatch(t *task, c zk.Conn, gen uint64, p string) {
	ok, _, ch, err := c.ExistsW(p)
	t.tell(&v1.NodeWatched{Generation: gen, Path: p, Exists: ok, Error: errText(err)})
	if err != nil {
		return
	}
	t.waitWatch(ch, gen, p)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
