package zkmem_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

func TestZkmem_SessionLifecycle(t *testing.T) {
	type step struct {
		do   string        // "disconnect", "reconnect", "advance", "expire", "close"
		d    time.Duration // for advance
		want []zk.SessionState
	}
	tests := []struct {
		name      string
		steps     []step
		wantErr   error // what a call returns at the end (nil: it works)
		ephemeral bool  // the session's ephemeral node still exists at the end
		closed    bool  // the event channel is closed at the end
	}{
		{"connected never expires", []step{
			{"advance", time.Hour, nil},
		}, nil, true, false},
		{"short outage", []step{
			{"disconnect", 0, []zk.SessionState{zk.StateDisconnected}},
			{"advance", timeout - time.Nanosecond, nil},
			{"reconnect", 0, []zk.SessionState{zk.StateConnected}},
			{"advance", time.Hour, nil},
		}, nil, true, false},
		{"outages do not add up", []step{
			{"disconnect", 0, []zk.SessionState{zk.StateDisconnected}},
			{"advance", timeout / 2, nil},
			{"reconnect", 0, []zk.SessionState{zk.StateConnected}},
			{"disconnect", 0, []zk.SessionState{zk.StateDisconnected}},
			{"advance", timeout / 2, nil},
			{"reconnect", 0, []zk.SessionState{zk.StateConnected}},
		}, nil, true, false},
		{"disconnected calls fail fast", []step{
			{"disconnect", 0, []zk.SessionState{zk.StateDisconnected}},
		}, zk.ErrConnectionLost, true, false},
		{"expiry learned on reconnect", []step{
			{"disconnect", 0, []zk.SessionState{zk.StateDisconnected}},
			{"advance", timeout, nil},
			{"reconnect", 0, []zk.SessionState{zk.StateExpired, zk.StateClosed}},
		}, zk.ErrSessionExpired, false, true},
		{"expired while disconnected, not yet learned", []step{
			{"disconnect", 0, []zk.SessionState{zk.StateDisconnected}},
			{"advance", timeout, nil},
		}, zk.ErrConnectionLost, false, false},
		{"expire while connected", []step{
			{"expire", 0, []zk.SessionState{zk.StateExpired, zk.StateClosed}},
		}, zk.ErrSessionExpired, false, true},
		{"expire while disconnected", []step{
			{"disconnect", 0, []zk.SessionState{zk.StateDisconnected}},
			{"expire", 0, nil},
			{"reconnect", 0, []zk.SessionState{zk.StateExpired, zk.StateClosed}},
		}, zk.ErrSessionExpired, false, true},
		{"close", []step{
			{"close", 0, []zk.SessionState{zk.StateClosed}},
		}, zk.ErrClosed, false, true},
		{"close after expiry keeps the expiry error", []step{
			{"expire", 0, []zk.SessionState{zk.StateExpired, zk.StateClosed}},
			{"close", 0, nil},
		}, zk.ErrSessionExpired, false, true},
		{"close while disconnected keeps ephemerals until the timeout", []step{
			{"disconnect", 0, []zk.SessionState{zk.StateDisconnected}},
			{"close", 0, []zk.SessionState{zk.StateClosed}},
			{"advance", timeout - time.Nanosecond, nil},
		}, zk.ErrClosed, true, true},
		{"close while disconnected, then the timeout", []step{
			{"disconnect", 0, []zk.SessionState{zk.StateDisconnected}},
			{"close", 0, []zk.SessionState{zk.StateClosed}},
			{"advance", timeout, nil},
			{"reconnect", 0, nil},
		}, zk.ErrClosed, false, true},
		{"faults on an ended session do nothing", []step{
			{"close", 0, []zk.SessionState{zk.StateClosed}},
			{"disconnect", 0, nil},
			{"reconnect", 0, nil},
			{"expire", 0, nil},
		}, zk.ErrClosed, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			a, b := f.dial(""), f.dial("")
			f.create(a, "/e", zk.Ephemeral)
			id := a.SessionID()
			for i, s := range tt.steps {
				var err error
				switch s.do {
				case "disconnect":
					err = f.srv.Disconnect(id)
				case "reconnect":
					err = f.srv.Reconnect(id)
				case "expire":
					err = f.srv.Expire(id)
				case "advance":
					f.clk.Advance(s.d)
				case "close":
					a.Close()
				}
				if err != nil {
					t.Fatalf("step %d %s: %v", i, s.do, err)
				}
				if got := a.states(); !statesEqual(got, s.want) {
					t.Errorf("step %d %s: events %v, want %v", i, s.do, got, s.want)
				}
			}
			_, _, err := a.Get("/")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("call at the end: %v, want %v", err, tt.wantErr)
			}
			if got := exists(t, b, "/e"); got != tt.ephemeral {
				t.Errorf("ephemeral exists %v, want %v\n%s", got, tt.ephemeral, f.srv.Dump())
			}
			if got := a.closed(); got != tt.closed {
				t.Errorf("event channel closed %v, want %v", got, tt.closed)
			}
			if a.SessionID() != id {
				t.Errorf("SessionID changed to %d", a.SessionID())
			}
		})
	}
}

func TestZkmem_ExpiryNotifiesWatches(t *testing.T) {
	f := newFixture(t)
	a, b := f.dial(""), f.dial("")
	f.create(a, "/p", zk.Persistent)
	f.create(a, "/p/e", zk.Ephemeral)
	_, _, own, _ := a.GetW("/p/e")
	_, _, other, _ := b.ExistsW("/p/e")
	_, _, parent, _ := b.ChildrenW("/p")
	if err := f.srv.Disconnect(a.SessionID()); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(timeout)
	// The server has ended the session: others see it now...
	for name, ch := range map[string]<-chan zk.WatchEvent{"exists": other, "children": parent} {
		if ev, ok := pending(ch); !ok || ev.Type == zk.EventNotWatching {
			t.Errorf("%s watch of another session: %+v, %v", name, ev, ok)
		}
	}
	// ...the expired client only when it reconnects.
	if ev, ok := pending(own); ok {
		t.Errorf("own watch fired before the client could learn of the expiry: %+v", ev)
	}
	if err := f.srv.Reconnect(a.SessionID()); err != nil {
		t.Fatal(err)
	}
	if ev, ok := pending(own); !ok || ev.Type != zk.EventNotWatching || !errors.Is(ev.Err, zk.ErrSessionExpired) || ev.Path != "/p/e" {
		t.Errorf("own watch after learning of the expiry: %+v, %v", ev, ok)
	}
}

func TestZkmem_ReconnectRechecksWatches(t *testing.T) {
	tests := []struct {
		name   string
		watch  func(c zk.Conn) <-chan zk.WatchEvent
		outage func(t *testing.T, f *fixture, c zk.Conn) // changes by another session while disconnected
		want   zk.EventType                              // 0: still armed
	}{
		{"data: set", func(c zk.Conn) <-chan zk.WatchEvent { _, _, ch, _ := c.GetW("/a"); return ch },
			func(t *testing.T, f *fixture, c zk.Conn) { _, _ = c.Set("/a", nil, -1) }, zk.EventNodeDataChanged},
		{"data: deleted and recreated reads as changed", func(c zk.Conn) <-chan zk.WatchEvent { _, _, ch, _ := c.GetW("/a"); return ch },
			func(t *testing.T, f *fixture, c zk.Conn) { _ = c.Delete("/a", -1); f.create(c, "/a", 0) }, zk.EventNodeDataChanged},
		{"data: deleted", func(c zk.Conn) <-chan zk.WatchEvent { _, _, ch, _ := c.GetW("/a"); return ch },
			func(t *testing.T, f *fixture, c zk.Conn) { _ = c.Delete("/a", -1) }, zk.EventNodeDeleted},
		{"data: nothing changed", func(c zk.Conn) <-chan zk.WatchEvent { _, _, ch, _ := c.GetW("/a"); return ch },
			func(t *testing.T, f *fixture, c zk.Conn) { f.create(c, "/a/x", 0) }, 0},
		{"exist: created", func(c zk.Conn) <-chan zk.WatchEvent { _, _, ch, _ := c.ExistsW("/n"); return ch },
			func(t *testing.T, f *fixture, c zk.Conn) { f.create(c, "/n", 0) }, zk.EventNodeCreated},
		{"exist: created and deleted stays armed", func(c zk.Conn) <-chan zk.WatchEvent { _, _, ch, _ := c.ExistsW("/n"); return ch },
			func(t *testing.T, f *fixture, c zk.Conn) { f.create(c, "/n", 0); _ = c.Delete("/n", -1) }, 0},
		{"child: child created", func(c zk.Conn) <-chan zk.WatchEvent { _, _, ch, _ := c.ChildrenW("/a"); return ch },
			func(t *testing.T, f *fixture, c zk.Conn) { f.create(c, "/a/x", 0) }, zk.EventNodeChildrenChanged},
		{"child: data set", func(c zk.Conn) <-chan zk.WatchEvent { _, _, ch, _ := c.ChildrenW("/a"); return ch },
			func(t *testing.T, f *fixture, c zk.Conn) { _, _ = c.Set("/a", nil, -1) }, 0},
		{"child: node deleted", func(c zk.Conn) <-chan zk.WatchEvent { _, _, ch, _ := c.ChildrenW("/a"); return ch },
			func(t *testing.T, f *fixture, c zk.Conn) { _ = c.Delete("/a", -1) }, zk.EventNodeDeleted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			a, b := f.dial(""), f.dial("")
			f.create(b, "/a", zk.Persistent)
			ch := tt.watch(a)
			if err := f.srv.Disconnect(a.SessionID()); err != nil {
				t.Fatal(err)
			}
			tt.outage(t, f, b)
			if ev, ok := pending(ch); ok {
				t.Fatalf("fired while disconnected: %+v", ev)
			}
			if err := f.srv.Reconnect(a.SessionID()); err != nil {
				t.Fatal(err)
			}
			ev, ok := pending(ch)
			switch {
			case tt.want == 0 && ok:
				t.Errorf("fired %+v, want still armed", ev)
			case tt.want != 0 && (!ok || ev.Type != tt.want):
				t.Errorf("got %+v (%v), want %s", ev, ok, tt.want)
			}
			if tt.want == 0 {
				// Still armed: it fires on the next change.
				_ = b.Delete("/a/x", -1)
				_ = b.Delete("/n", -1)
				_, _ = b.Set("/a", nil, -1)
				f.create(b, "/n", 0)
				f.create(b, "/a/y", 0)
				if _, ok := pending(ch); !ok {
					t.Errorf("a watch kept over the reconnection does not fire")
				}
			}
		})
	}
}

func TestZkmem_CloseNotifiesWatches(t *testing.T) {
	f := newFixture(t)
	a, b := f.dial(""), f.dial("")
	f.create(a, "/e", zk.Ephemeral)
	_, _, own, _ := a.ExistsW("/e")
	_, _, other, _ := b.ExistsW("/e")
	a.Close()
	if ev, ok := pending(own); !ok || ev.Type != zk.EventNotWatching || !errors.Is(ev.Err, zk.ErrClosed) {
		t.Errorf("own watch: %+v, %v", ev, ok)
	}
	if ev, ok := pending(other); !ok || ev.Type != zk.EventNodeDeleted {
		t.Errorf("other's watch: %+v, %v", ev, ok)
	}
	if got := f.srv.Sessions(); len(got) != 1 || got[0].ID != b.SessionID() {
		t.Errorf("sessions after close: %+v", got)
	}
}

func TestZkmem_DialErrors(t *testing.T) {
	tests := []struct {
		name    string
		e       zk.Ensemble
		timeout time.Duration
	}{
		{"zero timeout", zk.Ensemble{}, 0},
		{"negative timeout", zk.Ensemble{}, -time.Second},
		{"relative chroot", zk.Ensemble{Chroot: "a"}, time.Second},
		{"root chroot", zk.Ensemble{Chroot: "/"}, time.Second},
		{"trailing slash chroot", zk.Ensemble{Chroot: "/a/"}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c, ev, err := f.srv.Dialer().Dial(tt.e, tt.timeout)
			if !errors.Is(err, zk.ErrBadArguments) || c != nil || ev != nil {
				t.Errorf("dial: %v, %v, %v; want ErrBadArguments", c, ev, err)
			}
		})
	}
}

func TestZkmem_SessionTimeoutBounds(t *testing.T) {
	tests := []struct {
		name      string
		requested time.Duration
		want      time.Duration
	}{
		{"raised to the minimum", time.Second, 4 * time.Second},
		{"lowered to the maximum", time.Hour, 40 * time.Second},
		{"kept within", 10 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, zkmem.WithSessionTimeoutBounds(4*time.Second, 40*time.Second))
			c, _, err := f.srv.Dial(zk.Ensemble{}, tt.requested)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := f.srv.Sessions()[0].Timeout; got != tt.want {
				t.Errorf("timeout %v, want %v", got, tt.want)
			}
		})
	}
}
