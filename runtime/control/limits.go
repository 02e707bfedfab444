package control

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits bound what one client can hold of the control server (DESIGN §12). The zero value of a field takes
// its default.
type Limits struct {
	// HeaderTimeout: a request's headers are read within it (10 s).
	HeaderTimeout time.Duration
	// BodyTimeout: once the headers are in, the body is read within it, however slowly it trickles; the
	// connection is then closed (10 s: a leader's body of a thousand pods is 300 KB).
	BodyTimeout time.Duration
	// IdleTimeout: a kept-alive connection with no request is closed after it (60 s).
	IdleTimeout time.Duration
	// MaxConns: connections open at once; more wait in the listen queue until one closes (512).
	MaxConns int
}

// Defaults of Limits.
const (
	DefaultHeaderTimeout = 10 * time.Second
	DefaultBodyTimeout   = 10 * time.Second
	DefaultIdleTimeout   = 60 * time.Second
	DefaultMaxConns      = 512
)

func (l Limits) withDefaults() Limits {
	l.HeaderTimeout = positiveOr(l.HeaderTimeout, DefaultHeaderTimeout)
	l.BodyTimeout = positiveOr(l.BodyTimeout, DefaultBodyTimeout)
	l.IdleTimeout = positiveOr(l.IdleTimeout, DefaultIdleTimeout)
	l.MaxConns = positiveOr(l.MaxConns, DefaultMaxConns)
	return l
}

// positiveOr is v, or def when v is not positive.
func positiveOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Server is an http.Server for h with the limits: header and idle timeouts, and a deadline on each body
// (bodyDeadline). It sets no WriteTimeout: a control request waits for its task as long as the caller asked.
// Serve it on Listener(ln), under TLS or not: AfterReply then waits for each reply.
func (l Limits) Server(h http.Handler) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler:           bodyDeadline(h, l.BodyTimeout),
		ReadHeaderTimeout: l.HeaderTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       withAfterReply,
		ConnState:         runAfterReply,
	}
}

// bodyDeadline gives the body of each request d from the moment its headers were read: a client sending a
// byte now and then cannot keep the connection (net/http has one deadline for headers and body, which would
// also cut the replies of long tasks). readBody lifts it once the body is in.
func bodyDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d)) // not supported by test recorders
		h.ServeHTTP(w, r)
	})
}

// bodyRead lifts the body's deadline: the request now waits for its task, and net/http reads the connection
// meanwhile to notice a client that leaves (a read that failed on the deadline would cancel the request).
func bodyRead(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
}

// Listener caps the connections open at once on ln at MaxConns: Accept waits while the cap is reached, and
// the connections beyond it wait in the kernel's listen queue. Each connection is bounded in time by Server's
// timeouts, so a slot frees within HeaderTimeout + BodyTimeout of a client that sends nothing useful.
func (l Limits) Listener(ln net.Listener) net.Listener {
	l = l.withDefaults()
	return &capped{Listener: ln, slots: make(chan struct{}, l.MaxConns), done: make(chan struct{})}
}

type capped struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
}

func (c *capped) Accept() (net.Conn, error) {
	select {
	case c.slots <- struct{}{}:
	case <-c.done:
		return nil, net.ErrClosed
	}
	conn, err := c.Listener.Accept()
	if err != nil {
		<-c.slots
		return nil, err
	}
	return &slotConn{Conn: conn, free: func() { <-c.slots }}, nil
}

func (c *capped) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.Listener.Close()
}

// slotConn frees its slot once, on its first Close, and holds the connection's AfterReply queue.
type slotConn struct {
	net.Conn
	once  sync.Once
	free  func()
	after afterReply
}

func (s *slotConn) Close() error {
	err := s.Conn.Close()
	s.once.Do(s.free)
	return err
}
