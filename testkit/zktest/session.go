package zktest

import (
	"errors"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
)

// session is a Conn under test with its event channel, which it reads for the test and drains at cleanup.
type session struct {
	zk.Conn
	t      *testing.T
	h      Harness
	events <-chan zk.SessionEvent
	seen   []zk.SessionEvent // every event read so far
	ended  bool              // the event channel is closed
}

// dial opens a session on the harness's ensemble with the given chroot and waits until it is connected.
// Cleanup closes it and drains its events.
func dial(t *testing.T, h Harness, chroot string) *session {
	t.Helper()
	e := h.Ensemble
	e.Chroot = chroot
	c, events, err := h.Dialer.Dial(e, h.SessionTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", e, err)
	}
	s := &session{Conn: c, t: t, h: h, events: events}
	t.Cleanup(func() {
		c.Close()
		s.drain()
	})
	ev := s.await(zk.StateConnected)
	if ev.SessionID == 0 || ev.SessionID != c.SessionID() {
		t.Fatalf("StateConnected carries session %#x, SessionID() is %#x; want the same, non-zero", ev.SessionID, c.SessionID())
	}
	return s
}

// open dials the harness's own chroot.
func open(t *testing.T, h Harness) *session {
	t.Helper()
	return dial(t, h, h.Ensemble.Chroot)
}

// next reads one session event, failing the test after the harness's wait. ok is false once the channel is
// closed.
func (s *session) next() (zk.SessionEvent, bool) {
	s.t.Helper()
	if s.ended {
		return zk.SessionEvent{}, false
	}
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.ended = true
			return zk.SessionEvent{}, false
		}
		s.seen = append(s.seen, ev)
		return ev, true
	case <-time.After(s.h.wait()):
		s.t.Fatalf("no session event within %v (seen so far: %v)", s.h.wait(), states(s.seen))
	}
	return zk.SessionEvent{}, false
}

// await reads session events until one reports want.
func (s *session) await(want zk.SessionState) zk.SessionEvent {
	s.t.Helper()
	for {
		ev, ok := s.next()
		if !ok {
			s.t.Fatalf("event channel closed while waiting for %s (seen: %v)", want, states(s.seen))
		}
		if ev.State == want {
			return ev
		}
	}
}

// rest reads session events until the channel is closed and returns every event seen since the session began.
func (s *session) rest() []zk.SessionEvent {
	s.t.Helper()
	for {
		if _, ok := s.next(); !ok {
			return s.seen
		}
	}
}

// drain empties the event channel at cleanup, without failing the test.
func (s *session) drain() {
	if s.ended {
		return
	}
	deadline := time.After(s.h.wait())
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				s.ended = true
				return
			}
		case <-deadline:
			s.t.Errorf("the event channel was not closed within %v of Close", s.h.wait())
			return
		}
	}
}

func states(evs []zk.SessionEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.State.String()
	}
	return out
}

// expire makes the server expire s's session the way a partition does: cut, let the timeout pass, restore.
// It returns once s's client reported StateExpired.
func expire(t *testing.T, h Harness, s *session) {
	t.Helper()
	h.Disconnect(t, s.Conn)
	s.await(zk.StateDisconnected)
	h.Elapse(t, h.SessionTimeout+h.ExpiryMargin)
	h.Reconnect(t, s.Conn)
	s.await(zk.StateExpired)
}

// watchEvent waits for the one event of a watch channel and checks the channel is closed after it.
func watchEvent(t *testing.T, h Harness, ch <-chan zk.WatchEvent) zk.WatchEvent {
	t.Helper()
	var ev zk.WatchEvent
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatalf("watch channel closed without an event")
		}
		ev = e
	case <-time.After(h.wait()):
		t.Fatalf("no watch event within %v", h.wait())
	}
	select {
	case e, ok := <-ch:
		if ok {
			t.Fatalf("second event on a one-shot watch: %+v after %+v", e, ev)
		}
	case <-time.After(h.wait()):
		t.Fatalf("watch channel not closed after its event")
	}
	return ev
}

// ready reports whether the watch channel already holds its event (without waiting).
func ready(ch <-chan zk.WatchEvent) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustCreate(t *testing.T, c zk.Conn, p string, data string, mode zk.CreateMode) string {
	t.Helper()
	name, err := c.Create(p, []byte(data), mode)
	if err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
	return name
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}
