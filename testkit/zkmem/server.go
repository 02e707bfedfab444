package zkmem

import (
	"fmt"
	"sync"
	"time"

	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/zk"
)

// ServerName is what SessionEvent.Server reads for every session.
const ServerName = "zkmem"

// DefaultEventBuffer is the capacity of a session's event channel unless WithEventBuffer says otherwise.
const DefaultEventBuffer = 1024

// maxViolations bounds how many invariant violations the server keeps.
const maxViolations = 100

// Server is an in-memory ZooKeeper: one tree, its sessions and the faults the test injects. Build it with New.
// All methods are safe for concurrent use.
type Server struct {
	clk clock.Clock
	cfg config

	mu         sync.Mutex
	nodes      map[string]*znode
	zxid       int64
	nextID     int64
	sessions   map[int64]*session
	watches    watchRegistry
	hook       OpHook
	invariants []namedInvariant
	violations []error
	lastCommit Commit
}

// Option configures a Server.
type Option func(*config)

type config struct {
	minTimeout, maxTimeout time.Duration
	eventBuffer            int
	hook                   OpHook
	invariants             []namedInvariant
	firstSessionID         int64
	trace                  func(string)
	delivered              func(int64)
}

// WithSessionTimeoutBounds makes the server negotiate session timeouts as ZooKeeper does with its
// minSessionTimeout and maxSessionTimeout: a requested timeout is raised to min or lowered to max. Zero
// leaves that side unbounded (the default: the requested timeout is granted as is).
func WithSessionTimeoutBounds(lo, hi time.Duration) Option {
	return func(c *config) { c.minTimeout, c.maxTimeout = lo, hi }
}

// WithEventBuffer sets the capacity of each session's event channel (default DefaultEventBuffer). A session
// whose consumer lets more events than that pile up loses the newest ones, and the loss is recorded as an
// invariant violation (see Violations).
func WithEventBuffer(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.eventBuffer = n
		}
	}
}

// WithOpHook installs an interceptor called before every operation (see OpHook and SetOpHook).
func WithOpHook(h OpHook) Option { return func(c *config) { c.hook = h } }

// WithInvariant adds an invariant checked after every committed write (see AddInvariant).
func WithInvariant(name string, fn Invariant) Option {
	return func(c *config) { c.invariants = append(c.invariants, namedInvariant{name, fn}) }
}

// WithFirstSessionID sets the id of the first session (default 1); later ones count up from it.
func WithFirstSessionID(id int64) Option {
	return func(c *config) {
		if id > 0 {
			c.firstSessionID = id
		}
	}
}

// WithTrace makes the server report, one line at a time and in order, every commit, session event and watch
// event it produces, e.g. "zxid 5 session 1 create /a/n-0000000000", "session 1 state disconnected",
// "session 2 watch deleted /a/e". The same calls in the same order give the same lines, so a trace is a
// transcript a test can compare. fn runs under the server's lock: it must not call the Server or a Conn.
func WithTrace(fn func(line string)) Option { return func(c *config) { c.trace = fn } }

// WithDelivered makes the server report the session whose client it just gave an event: a session event
// or a watch's. A scheduler waiting on many clients' channels then looks only at that session's. fn runs
// under the server's lock: it must not call the Server or a Conn.
func WithDelivered(fn func(session int64)) Option { return func(c *config) { c.delivered = fn } }

// New returns an empty server (only the root node exists) whose session timeouts run on clk. A nil clk is
// the wall clock.
func New(clk clock.Clock, opts ...Option) *Server {
	if clk == nil {
		clk = clock.Real{}
	}
	cfg := config{eventBuffer: DefaultEventBuffer, firstSessionID: 1}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	s := &Server{
		clk:        clk,
		cfg:        cfg,
		nodes:      map[string]*znode{"/": {children: map[string]struct{}{}}},
		nextID:     cfg.firstSessionID,
		sessions:   map[int64]*session{},
		watches:    newWatchRegistry(),
		hook:       cfg.hook,
		invariants: cfg.invariants,
	}
	return s
}

// delivered reports that session's client got an event (WithDelivered).
func (s *Server) delivered(session int64) {
	if s.cfg.delivered != nil {
		s.cfg.delivered(session)
	}
}

func (s *Server) tracef(format string, args ...any) {
	if s.cfg.trace != nil {
		s.cfg.trace(fmt.Sprintf(format, args...))
	}
}

// Dialer returns the server as a zk.Dialer.
func (s *Server) Dialer() zk.Dialer { return s }

// Dial opens a session. The server list is ignored; the chroot is honoured (it must exist before use, as
// with the real adapter: Dial does not create it). The session is connected when Dial returns: the channel
// already holds StateConnecting and StateConnected.
func (s *Server) Dial(e zk.Ensemble, sessionTimeout time.Duration) (zk.Conn, <-chan zk.SessionEvent, error) {
	if e.Chroot != "" {
		if err := zk.ValidatePath(e.Chroot); err != nil || e.Chroot == "/" {
			return nil, nil, fmt.Errorf("zkmem: dial: bad chroot %q: %w", e.Chroot, zk.ErrBadArguments)
		}
	}
	if sessionTimeout <= 0 {
		return nil, nil, fmt.Errorf("zkmem: dial: session timeout %v must be positive: %w", sessionTimeout, zk.ErrBadArguments)
	}
	if lo := s.cfg.minTimeout; lo > 0 && sessionTimeout < lo {
		sessionTimeout = lo
	}
	if hi := s.cfg.maxTimeout; hi > 0 && sessionTimeout > hi {
		sessionTimeout = hi
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zxid++ // createSession is a transaction in ZooKeeper
	ss := &session{
		id:      s.nextID,
		timeout: sessionTimeout,
		chroot:  e.Chroot,
		live:    true,
		link:    true,
		client:  clientConnected,
		events:  make(chan zk.SessionEvent, s.cfg.eventBuffer),
	}
	s.nextID++
	s.sessions[ss.id] = ss
	s.emit(ss, zk.StateConnecting)
	s.emit(ss, zk.StateConnected)
	return &conn{srv: s, ss: ss}, ss.events, nil
}
