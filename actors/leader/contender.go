package leader

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"

	"github.com/ochopod/ochopod/runtime/zk"
)

// FindOrCreateContender returns this session's contender node under dir, creating it if needed. A node of ours
// from another session (one that has not expired yet) is deleted: it would otherwise hold a place in line for
// a session nobody uses. Reusing our own node lets a restarted leader keep its place, and the lock. The node
// is named after ContenderID(key) and holds the key as data (DESIGN §3), so tools match it to its pod.
func FindOrCreateContender(c zk.Conn, dir, key string, log *slog.Logger) (string, error) {
	id := ContenderID(key)
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
		log.Info("deleting a stale lock contender of this pod", "path", p)
		if err := c.Delete(p, zk.AnyVersion); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return "", fmt.Errorf("delete %s: %w", p, err)
		}
	}
	if kept != "" {
		return kept, nil
	}
	created, err := c.Create(path.Join(dir, id+zk.LockMarker), []byte(key), zk.EphemeralSequential)
	if err != nil {
		return "", fmt.Errorf("create contender in %s: %w", dir, err)
	}
	return created, nil
}

// ContenderID is the pod's id in the leader lock: its key without dashes, like the Kazoo recipe's uuid4().hex.
func ContenderID(key string) string {
	return strings.ReplaceAll(key, "-", "")
}
