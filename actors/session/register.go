package session

import (
	"errors"
	"fmt"
	"log/slog"
	"path"

	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/zk"
)

// RegisterPod ensures the cluster's layout (DESIGN §3) and creates the pod's ephemeral-sequential node. Without a seq
// (first registration) the node's own sequence becomes the seq, written into the payload right after; later
// registrations carry the seq they were given (hasSeq). Nodes of the same key left by an older session (not yet
// expired) are deleted first: they are this pod's past, not an error.
func RegisterPod(c zk.Conn, cluster zk.Cluster, key string, seq int64, hasSeq bool, base payload.Payload, log *slog.Logger) (string, int64, error) {
	for _, p := range []string{cluster.Pods(), cluster.Coordinator(), cluster.Hash()} {
		if err := zk.EnsurePath(c, p); err != nil {
			return "", 0, err
		}
	}
	if err := deleteStale(c, cluster, key, log); err != nil {
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
	created, err := c.Create(cluster.PodPrefix(key), data, zk.EphemeralSequential)
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
		// The node exists with this sequence: it is the pod's seq for life (DESIGN §2), whatever happens next.
		return created, n, fmt.Errorf("write seq into %s: %w", created, err)
	}
	return created, n, nil
}

func deleteStale(c zk.Conn, cluster zk.Cluster, key string, log *slog.Logger) error {
	children, _, err := c.Children(cluster.Pods())
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	for _, name := range children {
		node, err := zk.ParsePodNode(name)
		if err != nil || node.Key != key {
			continue
		}
		p := path.Join(cluster.Pods(), name)
		ok, st, err := c.Exists(p)
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if !ok || st.EphemeralOwner == c.SessionID() {
			continue
		}
		log.Info("deleting this pod's node left by an older session", "path", p)
		if err := c.Delete(p, zk.AnyVersion); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("delete stale %s: %w", p, err)
		}
	}
	return nil
}
