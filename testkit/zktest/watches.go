package zktest

import (
	"fmt"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
)

// testWatchesFireOnce: each kind of watch fires on the changes ZooKeeper defines for it, exactly once, with
// the client's path, whether the change comes from another session or from the watcher's own.
func testWatchesFireOnce(t *testing.T, h Harness) {
	a, b := open(t, h), open(t, h)
	type watchFn func(c zk.Conn, p string) (<-chan zk.WatchEvent, error)
	existsW := func(c zk.Conn, p string) (<-chan zk.WatchEvent, error) { _, _, ch, err := c.ExistsW(p); return ch, err }
	getW := func(c zk.Conn, p string) (<-chan zk.WatchEvent, error) { _, _, ch, err := c.GetW(p); return ch, err }
	childrenW := func(c zk.Conn, p string) (<-chan zk.WatchEvent, error) {
		_, _, ch, err := c.ChildrenW(p)
		return ch, err
	}
	set := func(c zk.Conn, p string) error { _, err := c.Set(p, []byte("x"), zk.AnyVersion); return err }
	create := func(c zk.Conn, p string) error { _, err := c.Create(p, nil, zk.Persistent); return err }
	del := func(c zk.Conn, p string) error { return c.Delete(p, zk.AnyVersion) }

	type action struct {
		do   func(zk.Conn, string) error
		path string // relative to the case's node, "" for the node itself, "/c" for its child
	}
	cases := []struct {
		name     string
		exists   bool // create the node first
		child    bool // and a child /c
		watch    watchFn
		actions  []action // run by the acting session; the event must follow the first relevant one
		self     bool     // the watcher acts itself
		want     zk.EventType
		wantPath string
	}{
		{"exists on a missing node fires on create", false, false, existsW, []action{{create, ""}, {set, ""}}, false, zk.EventNodeCreated, ""},
		{"exists on a node fires on set", true, false, existsW, []action{{set, ""}, {set, ""}}, false, zk.EventNodeDataChanged, ""},
		{"exists on a node fires on delete", true, false, existsW, []action{{del, ""}, {create, ""}}, false, zk.EventNodeDeleted, ""},
		{"get fires on set", true, false, getW, []action{{set, ""}, {set, ""}}, false, zk.EventNodeDataChanged, ""},
		{"get fires on delete", true, false, getW, []action{{del, ""}}, false, zk.EventNodeDeleted, ""},
		{"get ignores the children", true, false, getW, []action{{create, "/c"}, {set, ""}}, false, zk.EventNodeDataChanged, ""},
		{"children fires on a child's create", true, false, childrenW, []action{{create, "/c"}, {del, "/c"}}, false, zk.EventNodeChildrenChanged, ""},
		{"children fires on a child's delete", true, true, childrenW, []action{{del, "/c"}}, false, zk.EventNodeChildrenChanged, ""},
		{"children fires on the node's delete", true, false, childrenW, []action{{del, ""}}, false, zk.EventNodeDeleted, ""},
		{"children ignores data and grandchildren", true, true, childrenW, []action{{set, ""}, {set, "/c"}, {create, "/c/g"}, {create, "/d"}}, false, zk.EventNodeChildrenChanged, ""},
		{"own change fires own watch", true, false, getW, []action{{set, ""}}, true, zk.EventNodeDataChanged, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := fmt.Sprintf("/w%d", i)
			if tc.exists {
				mustCreate(t, b, p, "", zk.Persistent)
			}
			if tc.child {
				mustCreate(t, b, p+"/c", "", zk.Persistent)
			}
			ch, err := tc.watch(a, p)
			must(t, "set the watch", err)
			actor := b.Conn
			if tc.self {
				actor = a.Conn
			}
			for _, act := range tc.actions {
				must(t, "act on "+p+act.path, act.do(actor, p+act.path))
			}
			ev := watchEvent(t, h, ch)
			if ev.Type != tc.want || ev.Path != p+tc.wantPath || ev.Err != nil {
				t.Errorf("event %+v, want %s on %s", ev, tc.want, p+tc.wantPath)
			}
		})
	}
}

// testWatchOrder: ZooKeeper's ordering guarantee in channel form: once a call of a session returned data
// newer than a change its watches cover, the events of those watches are already in their channels.
func testWatchOrder(t *testing.T, h Harness) {
	a, b := open(t, h), open(t, h)
	mustCreate(t, b, "/a", "", zk.Persistent)
	mustCreate(t, b, "/b", "", zk.Persistent)
	_, _, onA, err := a.GetW("/a")
	must(t, "getw /a", err)
	_, _, onB, err := a.ChildrenW("/b")
	must(t, "childrenw /b", err)
	_, _, onC, err := a.ExistsW("/c")
	must(t, "existsw /c", err)

	_, err = b.Set("/a", []byte("1"), zk.AnyVersion)
	must(t, "set /a", err)
	mustCreate(t, b, "/b/x", "", zk.Persistent)
	mustCreate(t, b, "/c", "", zk.Persistent)

	// a reads until it sees the last change (at once on a single server).
	deadline := time.Now().Add(h.wait())
	for {
		ok, _, err := a.Exists("/c")
		must(t, "exists /c", err)
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/c not visible to the other session within %v", h.wait())
		}
	}
	for name, ch := range map[string]<-chan zk.WatchEvent{"/a": onA, "/b": onB, "/c": onC} {
		if !ready(ch) {
			t.Errorf("watch on %s: no event in the channel when newer data was read", name)
		}
	}
}
