package control

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// AfterReply runs fn once the reply to r is out. On a connection of Limits.Listener served by Limits.Server,
// that is when net/http has written the reply and reports the connection idle (or closed), on the
// connection's goroutine; elsewhere fn runs at once. It is for work a caller must not wait for, that should
// not cost the reply an extra write either: flushing the reply from the handler first cost each request of
// a phase a write of its own and a wake-up of net/http's background reader.
func AfterReply(r *http.Request, fn func()) {
	if q, ok := r.Context().Value(afterReplyKey{}).(*afterReply); ok {
		q.add(fn)
		return
	}
	fn()
}

type afterReplyKey struct{}

// afterReply is a connection's queue of what runs once its reply is out. net/http serves a connection's
// requests one at a time; the lock is for a handler that calls AfterReply from another goroutine.
type afterReply struct {
	mu    sync.Mutex
	fns   []func()
	spare []func() // the slice of the previous run, reused: no allocation a request
}

func (q *afterReply) add(fn func()) {
	q.mu.Lock()
	q.fns = append(q.fns, fn)
	q.mu.Unlock()
}

func (q *afterReply) run() {
	q.mu.Lock()
	fns := q.fns
	q.fns, q.spare = q.spare[:0], nil
	q.mu.Unlock()
	for i, fn := range fns {
		fn()
		fns[i] = nil
	}
	q.mu.Lock()
	q.spare = fns[:0]
	q.mu.Unlock()
}

// afterReplyOf is the queue of a connection Limits.Listener accepted, under TLS or not; nil for any other.
func afterReplyOf(c net.Conn) *afterReply {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if sc, ok := c.(*slotConn); ok {
		return &sc.after
	}
	return nil
}

// withAfterReply is Limits.Server's ConnContext: the requests of the connection find its queue.
func withAfterReply(ctx context.Context, c net.Conn) context.Context {
	if q := afterReplyOf(c); q != nil {
		return context.WithValue(ctx, afterReplyKey{}, q)
	}
	return ctx
}

// runAfterReply is Limits.Server's ConnState: net/http reports a connection idle once the reply of its
// request was flushed, and closed (or hijacked) after its last one.
func runAfterReply(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateIdle, http.StateClosed, http.StateHijacked:
		if q := afterReplyOf(c); q != nil {
			q.run()
		}
	}
}
