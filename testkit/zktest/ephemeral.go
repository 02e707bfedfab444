package zktest

import (
	"errors"
	"testing"

	"github.com/ochopod/ochopod/runtime/zk"
)

// testEphemeralOnClose: Close deletes the session's ephemeral nodes at once, and other sessions see it
// (DESIGN §5: a pod that shuts down leaves at once).
func testEphemeralOnClose(t *testing.T, h Harness) {
	a, b := open(t, h), open(t, h)
	mustCreate(t, a, "/p", "", zk.Persistent)
	mustCreate(t, a, "/p/e", "", zk.Ephemeral)
	seq := mustCreate(t, a, "/p/s-", "", zk.EphemeralSequential)
	ok, _, onNode, err := b.ExistsW("/p/e")
	if err != nil || !ok {
		t.Fatalf("existsw /p/e: %v %v", ok, err)
	}
	_, _, onParent, err := b.ChildrenW("/p")
	must(t, "childrenw /p", err)

	a.Close()
	if ev := watchEvent(t, h, onNode); ev.Type != zk.EventNodeDeleted || ev.Path != "/p/e" {
		t.Errorf("watch on /p/e: %+v, want deleted /p/e", ev)
	}
	if ev := watchEvent(t, h, onParent); ev.Type != zk.EventNodeChildrenChanged || ev.Path != "/p" {
		t.Errorf("watch on /p: %+v, want children-changed /p", ev)
	}
	for _, p := range []string{"/p/e", seq} {
		if ok, _, err := b.Exists(p); ok || err != nil {
			t.Errorf("%s after Close: exists %v, %v", p, ok, err)
		}
	}
	evs := a.rest()
	if last := evs[len(evs)-1]; last.State != zk.StateClosed {
		t.Errorf("last event %s, want closed (all: %v)", last.State, states(evs))
	}
}

// testEphemeralOnExpiry: when the server expires a session its ephemeral nodes go, and other sessions see
// it; the expired session's own watches end with EventNotWatching (DESIGN §5: expiry is a reset).
func testEphemeralOnExpiry(t *testing.T, h Harness) {
	a, b := open(t, h), open(t, h)
	mustCreate(t, a, "/p", "", zk.Persistent)
	mustCreate(t, a, "/p/e", "", zk.Ephemeral)
	_, _, own, err := a.GetW("/p")
	must(t, "getw /p", err)
	ok, _, onNode, err := b.ExistsW("/p/e")
	if err != nil || !ok {
		t.Fatalf("existsw /p/e: %v %v", ok, err)
	}

	expire(t, h, a)
	if ev := watchEvent(t, h, onNode); ev.Type != zk.EventNodeDeleted || ev.Path != "/p/e" {
		t.Errorf("other session's watch: %+v, want deleted /p/e", ev)
	}
	if ev := watchEvent(t, h, own); ev.Type != zk.EventNotWatching || !errors.Is(ev.Err, zk.ErrSessionExpired) || ev.Path != "/p" {
		t.Errorf("expired session's watch: %+v, want not-watching /p with ErrSessionExpired", ev)
	}
	if ok, _, err := b.Exists("/p/e"); ok || err != nil {
		t.Errorf("/p/e after expiry: exists %v, %v", ok, err)
	}
	if ok, _, err := b.Exists("/p"); !ok || err != nil {
		t.Errorf("/p (persistent) after expiry: exists %v, %v", ok, err)
	}
}

// testShortDisconnect: a connection lost and restored within the session timeout is not a reset: same
// session, ephemeral nodes kept, watches kept, and a change made meanwhile is reported after the reconnection
// (DESIGN §5).
func testShortDisconnect(t *testing.T, h Harness) {
	a, b := open(t, h), open(t, h)
	id := a.SessionID()
	mustCreate(t, a, "/p", "v0", zk.Persistent)
	mustCreate(t, a, "/p/e", "", zk.Ephemeral)
	_, _, onData, err := a.GetW("/p")
	must(t, "getw /p", err)
	_, _, onQuiet, err := a.ChildrenW("/p/e")
	must(t, "childrenw /p/e", err)

	h.Disconnect(t, a.Conn)
	a.await(zk.StateDisconnected)
	if ok, _, err := b.Exists("/p/e"); !ok || err != nil {
		t.Errorf("/p/e during the outage: exists %v, %v; want true", ok, err)
	}
	_, err = b.Set("/p", []byte("v1"), zk.AnyVersion)
	must(t, "set /p during the outage", err)
	h.Elapse(t, h.ShortOutage)
	h.Reconnect(t, a.Conn)
	if ev := a.await(zk.StateConnected); ev.SessionID != id || a.SessionID() != id {
		t.Fatalf("reconnected with session %#x (SessionID %#x), want %#x", ev.SessionID, a.SessionID(), id)
	}

	if ev := watchEvent(t, h, onData); ev.Type != zk.EventNodeDataChanged || ev.Path != "/p" {
		t.Errorf("watch set before the outage: %+v, want data-changed /p", ev)
	}
	if ready(onQuiet) {
		t.Errorf("a watch whose node did not change fired on reconnection")
	}
	if ok, st, err := b.Exists("/p/e"); !ok || err != nil || st.EphemeralOwner != id {
		t.Errorf("/p/e after the outage: exists %v owner %#x, %v; want true, %#x", ok, st.EphemeralOwner, err, id)
	}
	// The session works as before, its old watch included.
	mustCreate(t, b, "/p/x", "", zk.Persistent)
	must(t, "delete /p/e", a.Delete("/p/e", zk.AnyVersion))
	if ev := watchEvent(t, h, onQuiet); ev.Type != zk.EventNodeDeleted || ev.Path != "/p/e" {
		t.Errorf("watch kept over the outage: %+v, want deleted /p/e", ev)
	}
}

// testExpiry: after an expiry the client reports StateExpired exactly once, then StateClosed, its watches
// end with EventNotWatching, and every call fails with ErrSessionExpired (DESIGN §5).
func testExpiry(t *testing.T, h Harness) {
	a, b := open(t, h), open(t, h)
	mustCreate(t, a, "/p", "", zk.Persistent)
	mustCreate(t, a, "/p/e", "", zk.Ephemeral)
	_, _, ch, err := a.ChildrenW("/p")
	must(t, "childrenw /p", err)

	expire(t, h, a)
	evs := a.rest()
	expired, after := 0, false
	for _, ev := range evs {
		switch {
		case ev.State == zk.StateExpired:
			expired++
			after = true
		case after && ev.State == zk.StateConnected:
			t.Errorf("StateConnected after StateExpired")
		}
	}
	if expired != 1 || evs[len(evs)-1].State != zk.StateClosed {
		t.Errorf("events %v: want exactly one expired, closed last", states(evs))
	}
	if ev := watchEvent(t, h, ch); ev.Type != zk.EventNotWatching || !errors.Is(ev.Err, zk.ErrSessionExpired) {
		t.Errorf("watch: %+v, want not-watching with ErrSessionExpired", ev)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"get", func() error { _, _, err := a.Get("/p"); return err }},
		{"existsw", func() error { _, _, _, err := a.ExistsW("/p"); return err }},
		{"create", func() error { _, err := a.Create("/p/x", nil, zk.Persistent); return err }},
		{"set", func() error { _, err := a.Set("/p", nil, zk.AnyVersion); return err }},
		{"delete", func() error { return a.Delete("/p", zk.AnyVersion) }},
		{"children", func() error { _, _, err := a.Children("/p"); return err }},
		{"multi", func() error { _, err := a.Multi(zk.CheckOp{Path: "/p", Version: zk.AnyVersion}); return err }},
	}
	for _, c := range calls {
		err := c.call()
		wantErr(t, c.name+" after expiry", err, zk.ErrSessionExpired)
	}
	a.Close()
	if _, _, err := a.Get("/p"); !zk.IsSessionGone(err) {
		t.Errorf("get after expiry and Close: %v, want a session-gone error", err)
	}
	if ok, _, err := b.Exists("/p/e"); ok || err != nil {
		t.Errorf("/p/e after expiry: exists %v, %v", ok, err)
	}
}

// testClose: Close ends with StateClosed and a closed channel; watches end with EventNotWatching and calls
// fail with ErrClosed; Close is idempotent.
func testClose(t *testing.T, h Harness) {
	a := open(t, h)
	_, _, ch, err := a.ExistsW("/nothing")
	must(t, "existsw /nothing", err)
	a.Close()
	a.Close()
	evs := a.rest()
	for _, ev := range evs {
		if ev.State == zk.StateExpired {
			t.Errorf("StateExpired after Close")
		}
	}
	if evs[len(evs)-1].State != zk.StateClosed {
		t.Errorf("events %v: want closed last", states(evs))
	}
	if ev := watchEvent(t, h, ch); ev.Type != zk.EventNotWatching || !errors.Is(ev.Err, zk.ErrClosed) {
		t.Errorf("watch: %+v, want not-watching with ErrClosed", ev)
	}
	_, _, err = a.Get("/")
	wantErr(t, "get after Close", err, zk.ErrClosed)
}
