package zkmem

import (
	"errors"
	"fmt"
	"sort"

	"github.com/ochopod/ochopod/runtime/zk"
)

// OpName names a Conn operation for fault injection and the op hook. ExistsW counts as OpExists, GetW as
// OpGet, ChildrenW as OpChildren.
type OpName string

// Operation names.
const (
	OpCreate   OpName = "create"
	OpDelete   OpName = "delete"
	OpExists   OpName = "exists"
	OpGet      OpName = "get"
	OpChildren OpName = "children"
	OpSet      OpName = "set"
	OpMulti    OpName = "multi"
	// OpAny matches every operation in FailNext and FailNextAfterApply.
	OpAny OpName = "*"
)

// OpHook intercepts every operation of every session before it runs, on the caller's goroutine and without the
// server's lock, once the Conn has checked it is connected. path is the client's path ("" for a Multi). A
// non-nil error fails the operation with that error (wrapped) and nothing is applied. The hook may block (to
// hold an operation until the test releases it) or advance a virtual clock (to model a slow operation: the
// session may expire meanwhile, and the operation then fails as it would on the real server); it must not call
// the Conn that is being intercepted.
type OpHook func(sessionID int64, op OpName, path string) error

// failure is one injected error, consumed by the session's next matching operation.
type failure struct {
	op         OpName
	err        error
	afterApply bool
}

func (ss *session) takeFailure(op OpName) (failure, bool) {
	for i, f := range ss.failures {
		if f.op == op || f.op == OpAny {
			ss.failures = append(ss.failures[:i:i], ss.failures[i+1:]...)
			return f, true
		}
	}
	return failure{}, false
}

// lookup finds a session by id. Caller holds mu.
func (s *Server) lookup(id int64) (*session, error) {
	ss, ok := s.sessions[id]
	if !ok {
		return nil, fmt.Errorf("zkmem: no session %d: %w", id, zk.ErrBadArguments)
	}
	return ss, nil
}

// Disconnect takes the session's connection down: its client sees StateDisconnected and its calls fail with
// ErrConnectionLost until Reconnect; watch events for it are held back (re-checked on Reconnect). The session
// itself lives on until its timeout passes on the server's clock, then expires. It does nothing to a session
// that is already disconnected or whose client has ended.
func (s *Server) Disconnect(sessionID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.lookup(sessionID)
	if err != nil {
		return err
	}
	s.disconnect(ss)
	return nil
}

// Reconnect brings the session's connection back. If the session still lives, its client sees StateConnected
// with the same id, keeps its ephemeral nodes and watches, and the watches whose node changed meanwhile fire
// (as ZooKeeper's setWatches does). If it expired meanwhile, the client sees StateExpired then StateClosed.
// It does nothing to a connected session or one whose client has ended.
func (s *Server) Reconnect(sessionID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.lookup(sessionID)
	if err != nil {
		return err
	}
	s.reconnect(ss)
	return nil
}

// Expire expires the session now, whatever its timeout: its ephemeral nodes are deleted (firing the watches
// of other sessions) and its watches dropped. A connected client sees StateExpired, EventNotWatching on each
// watch, then StateClosed; a disconnected one sees that when it reconnects. It does nothing to a session that
// already ended on the server.
func (s *Server) Expire(sessionID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.lookup(sessionID)
	if err != nil {
		return err
	}
	s.expire(ss)
	return nil
}

// Partition disconnects each of the sessions (see Disconnect).
func (s *Server) Partition(sessionIDs ...int64) error {
	var errs []error
	for _, id := range sessionIDs {
		errs = append(errs, s.Disconnect(id))
	}
	return errors.Join(errs...)
}

// Heal reconnects every disconnected session whose client has not ended, in session id order.
func (s *Server) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		s.reconnect(s.sessions[id])
	}
}

// FailNext makes the session's next operation named op (or any, with OpAny) fail with err without being
// applied. Several calls queue up, consumed in order. The err is returned wrapped; pass a port sentinel
// (zk.ErrConnectionLost, zk.ErrNoNode...) to exercise the caller's branches.
func (s *Server) FailNext(sessionID int64, op OpName, err error) error {
	return s.inject(sessionID, failure{op: op, err: err})
}

// FailNextAfterApply makes the session's next operation named op be applied on the server, watches and all,
// and then fail with err as if the answer had been lost: the ambiguous outcome a real client gets when the
// connection drops after the request left (zk.ErrConnectionLost).
func (s *Server) FailNextAfterApply(sessionID int64, op OpName, err error) error {
	return s.inject(sessionID, failure{op: op, err: err, afterApply: true})
}

func (s *Server) inject(id int64, f failure) error {
	if f.err == nil {
		return fmt.Errorf("zkmem: inject a failure into session %d: nil error: %w", id, zk.ErrBadArguments)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.lookup(id)
	if err != nil {
		return err
	}
	ss.failures = append(ss.failures, f)
	return nil
}

// SetOpHook replaces the op hook (nil removes it).
func (s *Server) SetOpHook(h OpHook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}
