package zkmem

import (
	"fmt"
	"sort"
	"time"

	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/zk"
)

// clientState is the session as its Conn sees it.
type clientState int

const (
	clientConnected    clientState = iota // calls go through
	clientDisconnected                    // calls fail with ErrConnectionLost
	clientExpired                         // the client learned of the expiry: calls fail with ErrSessionExpired
	clientClosed                          // Close was called: calls fail with ErrClosed
)

// session is one session, both sides of it: the server's (live, link, the expiry timer) and the client's
// (its state, its event channel). All fields are guarded by Server.mu.
type session struct {
	id      int64
	timeout time.Duration
	chroot  string

	live    bool        // the server holds the session (false once expired or closed on the server)
	link    bool        // the client's connection is up
	relZxid int64       // the last zxid the client saw before its connection went down
	timer   clock.Timer // expiry, armed while the link is down
	gen     uint64      // bumped at each disconnection so a stale timer does nothing

	client   clientState
	events   chan zk.SessionEvent
	evClosed bool
	orphans  []*watch // watches dropped by the server at expiry, not yet told to the client
	failures []failure
}

// emit queues a session event without blocking; see WithEventBuffer for the overflow rule.
func (s *Server) emit(ss *session, st zk.SessionState) {
	if ss.evClosed {
		return
	}
	ev := zk.SessionEvent{State: st, Server: ServerName}
	if st != zk.StateConnecting {
		ev.SessionID = ss.id
	}
	s.tracef("session %d state %s", ss.id, st)
	s.delivered(ss.id)
	select {
	case ss.events <- ev:
	default:
		s.violate(fmt.Errorf("session %d: event channel full (capacity %d), %s dropped", ss.id, cap(ss.events), st))
	}
	if st == zk.StateClosed {
		ss.evClosed = true
		close(ss.events)
	}
}

// disconnect takes the session's link down: the client sees StateDisconnected and the server starts the
// session's expiry timer.
func (s *Server) disconnect(ss *session) {
	if !ss.link || ss.client == clientClosed || ss.client == clientExpired {
		return
	}
	ss.link = false
	ss.relZxid = s.zxid
	if ss.client == clientConnected {
		ss.client = clientDisconnected
		s.emit(ss, zk.StateDisconnected)
	}
	if ss.live {
		s.armExpiry(ss)
	}
}

func (s *Server) armExpiry(ss *session) {
	ss.gen++
	gen, id := ss.gen, ss.id
	ss.timer = s.clk.AfterFunc(ss.timeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		cur, ok := s.sessions[id]
		if !ok || cur.gen != gen || cur.link || !cur.live {
			return
		}
		s.expire(cur)
	})
}

func (s *Server) disarmExpiry(ss *session) {
	ss.gen++
	if ss.timer != nil {
		ss.timer.Stop()
		ss.timer = nil
	}
}

// reconnect brings the link back. A live session resumes (StateConnected, same id) and its watches are
// re-checked against what changed meanwhile, as ZooKeeper does with the client's setWatches; an expired one
// makes the client learn of the expiry.
func (s *Server) reconnect(ss *session) {
	if ss.link || ss.client == clientClosed || ss.client == clientExpired {
		return
	}
	ss.link = true
	if !ss.live {
		s.learnExpiry(ss)
		return
	}
	s.disarmExpiry(ss)
	ss.client = clientConnected
	s.emit(ss, zk.StateConnected)
	s.resetWatches(ss)
}

// expire ends a live session on the server: its ephemeral nodes go in one transaction (firing other
// sessions' watches) and its own watches are dropped. A connected client learns of it at once, a
// disconnected one when its link comes back.
func (s *Server) expire(ss *session) {
	if !ss.live {
		return
	}
	ss.orphans = append(ss.orphans, s.watches.removeSession(ss.id)...)
	s.endOnServer(ss, CauseExpire)
	if ss.link && ss.client == clientConnected {
		s.learnExpiry(ss)
	}
}

// learnExpiry is the client's side of an expiry, as the adapter reports it: StateExpired, every pending watch
// gets EventNotWatching with ErrSessionExpired, then StateClosed and the channel is closed.
func (s *Server) learnExpiry(ss *session) {
	ss.client = clientExpired
	s.emit(ss, zk.StateExpired)
	for _, w := range ss.orphans {
		s.notWatching(w, zk.ErrSessionExpired)
	}
	ss.orphans = nil
	s.emit(ss, zk.StateClosed)
}

// endOnServer deletes the session's ephemeral nodes (sorted by path) in one transaction and forgets it.
func (s *Server) endOnServer(ss *session, cause string) {
	ss.live = false
	s.disarmExpiry(ss)
	s.zxid++
	x := &txn{nodes: s.nodes, zxid: s.zxid}
	for _, p := range s.ephemeralsOf(ss.id) {
		if err := x.remove(p, zk.AnyVersion); err != nil {
			s.violate(fmt.Errorf("session %d: removing ephemeral %s: %w", ss.id, p, err))
		}
	}
	s.commit(x, ss.id, cause)
}

// ephemeralsOf lists the paths of the nodes a session owns, sorted.
func (s *Server) ephemeralsOf(id int64) []string {
	var ps []string
	for p, n := range s.nodes {
		if n.stat.EphemeralOwner == id {
			ps = append(ps, p)
		}
	}
	sort.Strings(ps)
	return ps
}

// closeSession is Conn.Close. A connected client reaches the server, which ends the session at once; a
// disconnected one cannot, so the server keeps the session (and its ephemeral nodes) until it expires.
// Either way the client's watches get EventNotWatching with ErrClosed, then StateClosed.
func (s *Server) closeSession(ss *session) {
	if ss.client == clientClosed || ss.client == clientExpired {
		return
	}
	ss.client = clientClosed
	for _, w := range append(ss.orphans, s.watches.removeSession(ss.id)...) {
		s.notWatching(w, zk.ErrClosed)
	}
	ss.orphans = nil
	if ss.live && ss.link {
		s.endOnServer(ss, CauseClose)
	}
	s.emit(ss, zk.StateClosed)
}
