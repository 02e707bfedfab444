package zkmem_test

// Each test here pins one known divergence from a real ZooKeeper, numbered as in doc.go, so that a change
// of behaviour is a deliberate one.

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

// Divergence 1: calls while disconnected fail at once.
func TestZkmem_DivergenceDisconnectedCallsFailFast(t *testing.T) {
	f := newFixture(t)
	c := f.dial("")
	if err := f.srv.Disconnect(c.SessionID()); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"create":   func() error { _, err := c.Create("/x", nil, 0); return err },
		"get":      func() error { _, _, err := c.Get("/"); return err },
		"existsw":  func() error { _, _, _, err := c.ExistsW("/x"); return err },
		"children": func() error { _, _, err := c.Children("/"); return err },
		"multi":    func() error { _, err := c.Multi(); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, zk.ErrConnectionLost) {
			t.Errorf("%s while disconnected: %v, want ErrConnectionLost", name, err)
		}
	}
	if f.clk.Pending() != 1 {
		t.Errorf("%d timers pending, want the expiry timer only", f.clk.Pending())
	}
}

// Divergence 2: children come sorted by name.
func TestZkmem_DivergenceChildrenSortedByName(t *testing.T) {
	f := newFixture(t)
	c := f.dial("")
	for _, n := range []string{"/m", "/b", "/z", "/a", "/b0", "/B"} {
		f.create(c, n, zk.Persistent)
	}
	names, _, err := c.Children("/")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"B", "a", "b", "b0", "m", "z"}; !reflect.DeepEqual(names, want) {
		t.Errorf("children %v, want %v", names, want)
	}
}

// Divergence 3: no /zookeeper subtree.
func TestZkmem_DivergenceNoSystemSubtree(t *testing.T) {
	f := newFixture(t)
	c := f.dial("")
	names, st, err := c.Children("/")
	if err != nil || len(names) != 0 || st.NumChildren != 0 {
		t.Errorf("children of a new server's root: %v %+v %v, want none", names, st, err)
	}
}

// Divergence 4: a disconnected session expires exactly its timeout after the disconnection.
func TestZkmem_DivergenceExpiryIsExact(t *testing.T) {
	f := newFixture(t)
	a, b := f.dial(""), f.dial("")
	f.create(a, "/e", zk.Ephemeral)
	if err := f.srv.Disconnect(a.SessionID()); err != nil {
		t.Fatal(err)
	}
	if due, ok := f.clk.NextDue(); !ok || due.Sub(f.clk.Now()) != timeout {
		t.Errorf("expiry due in %v, want %v", due.Sub(f.clk.Now()), timeout)
	}
	f.clk.Advance(timeout - time.Nanosecond)
	if !exists(t, b, "/e") {
		t.Fatalf("expired before its timeout")
	}
	f.clk.Advance(time.Nanosecond)
	if exists(t, b, "/e") {
		t.Errorf("not expired at its timeout")
	}
}

// Divergence 5: the requested timeout is granted as is unless bounds are set.
func TestZkmem_DivergenceTimeoutNotNegotiated(t *testing.T) {
	f := newFixture(t)
	for _, d := range []time.Duration{time.Millisecond, 24 * time.Hour} {
		c, _, err := f.srv.Dial(zk.Ensemble{}, d)
		if err != nil {
			t.Fatal(err)
		}
		ss := f.srv.Sessions()
		if got := ss[len(ss)-1].Timeout; got != d {
			t.Errorf("asked %v, got %v", d, got)
		}
		c.Close()
	}
}

// Divergence 6: the server list is ignored and the session is connected when Dial returns.
func TestZkmem_DivergenceDialIgnoresServers(t *testing.T) {
	f := newFixture(t)
	for _, servers := range [][]string{nil, {"nowhere.invalid:1"}} {
		c, ev, err := f.srv.Dial(zk.Ensemble{Servers: servers}, time.Second)
		if err != nil {
			t.Fatalf("dial %v: %v", servers, err)
		}
		if got := (client{c, ev}).states(); !statesEqual(got, []zk.SessionState{zk.StateConnecting, zk.StateConnected}) {
			t.Errorf("dial %v: events %v", servers, got)
		}
		c.Close()
	}
}

// Divergence 7: reconnection re-checks watches data first, then exist, then child, each by path.
func TestZkmem_DivergenceReconnectWatchOrder(t *testing.T) {
	var trace []string
	f := newFixture(t, zkmem.WithTrace(func(l string) { trace = append(trace, l) }))
	a, b := f.dial(""), f.dial("")
	f.create(b, "/a", zk.Persistent)
	f.create(b, "/b", zk.Persistent)
	_, _, _, _ = a.ChildrenW("/a")
	_, _, _, _ = a.ExistsW("/n")
	_, _, _, _ = a.GetW("/b")
	_, _, _, _ = a.GetW("/a")
	if err := f.srv.Disconnect(a.SessionID()); err != nil {
		t.Fatal(err)
	}
	_ = b.Delete("/a", -1)
	_ = b.Delete("/b", -1)
	f.create(b, "/n", 0)
	trace = nil
	if err := f.srv.Reconnect(a.SessionID()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"session 1 state connected",
		"session 1 watch deleted /a",
		"session 1 watch deleted /b",
		"session 1 watch created /n",
		"session 1 watch deleted /a",
	}
	if !reflect.DeepEqual(trace, want) {
		t.Errorf("reconnection trace:\n%q\nwant\n%q", trace, want)
	}
}

// Divergence 8: a session's own watches get EventNotWatching when it ends, even on the nodes its end deletes.
func TestZkmem_DivergenceOwnWatchesNotWatchingAtEnd(t *testing.T) {
	for _, end := range []string{"close", "expire"} {
		t.Run(end, func(t *testing.T) {
			f := newFixture(t)
			a := f.dial("")
			f.create(a, "/e", zk.Ephemeral)
			_, _, ch, _ := a.GetW("/e")
			want := zk.ErrClosed
			if end == "close" {
				a.Close()
			} else {
				want = zk.ErrSessionExpired
				if err := f.srv.Expire(a.SessionID()); err != nil {
					t.Fatal(err)
				}
			}
			if ev, ok := pending(ch); !ok || ev.Type != zk.EventNotWatching || !errors.Is(ev.Err, want) {
				t.Errorf("own watch on own ephemeral: %+v, want not-watching with %v", ev, want)
			}
		})
	}
}

// Divergence 10: session ids count up from 1 (or WithFirstSessionID).
func TestZkmem_DivergenceSmallSessionIDs(t *testing.T) {
	f := newFixture(t)
	if a, b := f.dial(""), f.dial(""); a.SessionID() != 1 || b.SessionID() != 2 {
		t.Errorf("session ids %d, %d; want 1, 2", a.SessionID(), b.SessionID())
	}
	g := newFixture(t, zkmem.WithFirstSessionID(0x1000))
	if c := g.dial(""); c.SessionID() != 0x1000 {
		t.Errorf("session id %#x, want 0x1000", c.SessionID())
	}
}
