package zkmem_test

import (
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/vclock"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

const timeout = 10 * time.Second

// fixture is a server on a virtual clock whose structural checks and invariants are verified at cleanup.
type fixture struct {
	t   *testing.T
	clk *vclock.Clock
	srv *zkmem.Server
}

func newFixture(t *testing.T, opts ...zkmem.Option) *fixture {
	t.Helper()
	f := &fixture{t: t, clk: vclock.New()}
	f.srv = zkmem.New(f.clk, opts...)
	t.Cleanup(func() {
		if err := f.srv.Check(); err != nil {
			t.Errorf("server check: %v\n%s", err, f.srv.Dump())
		}
		for _, v := range f.srv.Violations() {
			t.Errorf("violation: %v", v)
		}
	})
	return f
}

// client is a Conn and its event channel.
type client struct {
	zk.Conn
	events <-chan zk.SessionEvent
}

func (f *fixture) dial(chroot string) client {
	f.t.Helper()
	c, ev, err := f.srv.Dial(zk.Ensemble{Chroot: chroot}, timeout)
	if err != nil {
		f.t.Fatalf("dial: %v", err)
	}
	cl := client{c, ev}
	if got := cl.states(); len(got) != 2 || got[0] != zk.StateConnecting || got[1] != zk.StateConnected {
		f.t.Fatalf("events after dial: %v, want connecting, connected", got)
	}
	return cl
}

// states returns the session events waiting in the channel (never blocks: zkmem delivers synchronously).
func (c client) states() []zk.SessionState {
	var out []zk.SessionState
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return out
			}
			out = append(out, ev.State)
		default:
			return out
		}
	}
}

// closed reports whether the event channel is closed (after draining it).
func (c client) closed() bool {
	for {
		select {
		case _, ok := <-c.events:
			if !ok {
				return true
			}
		default:
			return false
		}
	}
}

func (f *fixture) create(c zk.Conn, p string, mode zk.CreateMode) string {
	f.t.Helper()
	name, err := c.Create(p, []byte(p), mode)
	if err != nil {
		f.t.Fatalf("create %s: %v\n%s", p, err, f.srv.Dump())
	}
	return name
}

// pending returns the watch event if one is in the channel, without waiting.
func pending(ch <-chan zk.WatchEvent) (zk.WatchEvent, bool) {
	select {
	case ev, ok := <-ch:
		return ev, ok
	default:
		return zk.WatchEvent{}, false
	}
}

func exists(t *testing.T, c zk.Conn, p string) bool {
	t.Helper()
	ok, _, err := c.Exists(p)
	if err != nil {
		t.Fatalf("exists %s: %v", p, err)
	}
	return ok
}

func statesEqual(a, b []zk.SessionState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
