package zkmem

import (
	"sort"

	"github.com/ochopod/ochopod/runtime/zk"
)

// watchKind says which call set a watch, which decides what fires it (ZooKeeper's data and child tables, and
// the client's exist/data/child types).
type watchKind int

const (
	watchData  watchKind = iota // GetW, or ExistsW on an existing node: data table
	watchExist                  // ExistsW on a missing node: data table
	watchChild                  // ChildrenW: child table
)

// watch is one successful *W call: a one-shot channel with room for its one event.
type watch struct {
	id         uint64
	session    int64
	kind       watchKind
	path       string // on the server
	clientPath string // as the client named it (without the chroot)
	ch         chan zk.WatchEvent
}

func (s *Server) fireWatch(w *watch, t zk.EventType) {
	s.tracef("session %d watch %s %s", w.session, t, w.clientPath)
	s.delivered(w.session)
	w.ch <- zk.WatchEvent{Type: t, Path: w.clientPath}
	close(w.ch)
}

func (s *Server) notWatching(w *watch, err error) {
	s.tracef("session %d watch %s %s (%v)", w.session, zk.EventNotWatching, w.clientPath, err)
	s.delivered(w.session)
	w.ch <- zk.WatchEvent{Type: zk.EventNotWatching, Path: w.clientPath, Err: err}
	close(w.ch)
}

// watchRegistry holds the pending watches by server path, each list in registration order.
type watchRegistry struct {
	next  uint64
	data  map[string][]*watch // watchData and watchExist
	child map[string][]*watch
}

func newWatchRegistry() watchRegistry {
	return watchRegistry{data: map[string][]*watch{}, child: map[string][]*watch{}}
}

func (r *watchRegistry) add(session int64, kind watchKind, path, clientPath string) *watch {
	r.next++
	w := &watch{id: r.next, session: session, kind: kind, path: path, clientPath: clientPath, ch: make(chan zk.WatchEvent, 1)}
	if kind == watchChild {
		r.child[path] = append(r.child[path], w)
	} else {
		r.data[path] = append(r.data[path], w)
	}
	return w
}

// take removes and returns the watches of table on path that may fire now: those of sessions whose link is
// up. Watches of a disconnected session stay; reconnection re-checks them (resetWatches).
func (r *watchRegistry) take(table map[string][]*watch, path string, linkUp func(int64) bool) []*watch {
	var fired, kept []*watch
	for _, w := range table[path] {
		if linkUp(w.session) {
			fired = append(fired, w)
		} else {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 {
		delete(table, path)
	} else {
		table[path] = kept
	}
	return fired
}

// removeSession drops every watch of a session and returns them in registration order.
func (r *watchRegistry) removeSession(id int64) []*watch {
	var out []*watch
	for _, table := range []map[string][]*watch{r.data, r.child} {
		for p, ws := range table {
			var kept []*watch
			for _, w := range ws {
				if w.session == id {
					out = append(out, w)
				} else {
					kept = append(kept, w)
				}
			}
			if len(kept) == 0 {
				delete(table, p)
			} else {
				table[p] = kept
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// count is the number of pending watches, for Sessions and Dump.
func (r *watchRegistry) count(id int64) int {
	n := 0
	for _, table := range []map[string][]*watch{r.data, r.child} {
		for _, ws := range table {
			for _, w := range ws {
				if w.session == id {
					n++
				}
			}
		}
	}
	return n
}

// fire delivers the watch events of a committed transaction, in the order the writes produced them, as
// ZooKeeper's DataTree triggers them: a create fires the data table of the node and the child table of its
// parent, a delete the data and child tables of the node and the child table of its parent, a set the data
// table of the node.
func (s *Server) fire(events []event) {
	up := func(id int64) bool {
		ss, ok := s.sessions[id]
		return ok && ss.link && ss.client == clientConnected
	}
	for _, ev := range events {
		var ws []*watch
		switch ev.typ {
		case zk.EventNodeCreated, zk.EventNodeDataChanged:
			ws = s.watches.take(s.watches.data, ev.path, up)
		case zk.EventNodeDeleted:
			ws = s.watches.take(s.watches.data, ev.path, up)
			ws = append(ws, s.watches.take(s.watches.child, ev.path, up)...)
		case zk.EventNodeChildrenChanged:
			ws = s.watches.take(s.watches.child, ev.path, up)
		}
		for _, w := range ws {
			s.fireWatch(w, ev.typ)
		}
	}
}

// resetWatches is ZooKeeper's setWatches on reconnection: each pending watch of the session is checked
// against the zxid the client last saw. A data watch fires NodeDeleted if its node is gone or NodeDataChanged
// if the node changed since; an exist watch fires NodeCreated if its node now exists; a child watch fires
// NodeDeleted if its node is gone or NodeChildrenChanged if its child list changed since. The others stay.
// Order: data watches, then exist, then child, each by path then registration (the real client's order comes
// from a map and is random).
func (s *Server) resetWatches(ss *session) {
	mine := s.watches.removeSession(ss.id)
	order := map[watchKind]int{watchData: 0, watchExist: 1, watchChild: 2}
	sort.SliceStable(mine, func(i, j int) bool {
		a, b := mine[i], mine[j]
		if a.kind != b.kind {
			return order[a.kind] < order[b.kind]
		}
		if a.path != b.path {
			return a.path < b.path
		}
		return a.id < b.id
	})
	for _, w := range mine {
		n, exists := s.nodes[w.path]
		switch {
		case w.kind == watchData && !exists, w.kind == watchChild && !exists:
			s.fireWatch(w, zk.EventNodeDeleted)
		case w.kind == watchData && n.stat.Mzxid > ss.relZxid:
			s.fireWatch(w, zk.EventNodeDataChanged)
		case w.kind == watchExist && exists:
			s.fireWatch(w, zk.EventNodeCreated)
		case w.kind == watchChild && n.pzxid > ss.relZxid:
			s.fireWatch(w, zk.EventNodeChildrenChanged)
		default:
			s.watches.readd(w)
		}
	}
}

// readd puts back a watch that resetWatches kept.
func (r *watchRegistry) readd(w *watch) {
	if w.kind == watchChild {
		r.child[w.path] = append(r.child[w.path], w)
	} else {
		r.data[w.path] = append(r.data[w.path], w)
	}
}
