// Package gozk is the real implementation of the ZooKeeper port (package zk) over github.com/go-zookeeper/zk.
//
// What it adds to the client library:
//
//   - A chroot. go-zookeeper has none: every path is prefixed with Ensemble.Chroot on the way in and the
//     prefix is stripped from the paths that come back (Create's result, the paths of a Multi's creates,
//     watch events). The chroot node itself must exist: the caller creates it, for instance with
//     zk.EnsurePath on a Conn dialed with the same servers and no chroot. The adapter does not create it
//     (a typo in a connection string should not plant nodes on a shared ensemble; the Java client and Kazoo
//     behave the same); it logs a warning once if the chroot is missing when the session starts.
//
//   - One session per Conn. When go-zookeeper learns that its session expired it silently opens a brand-new
//     one. The adapter prevents that: the moment the library reports the expiry (from the goroutine that is
//     about to reconnect) the adapter's own TCP dialer starts refusing connections, so no new session can be
//     created, and the library is closed. The Conn reports StateExpired exactly once, then StateClosed, and
//     closes its event channel; every call from then on fails with zk.ErrSessionExpired.
//
//   - Session events that are never lost. The library's event channel drops events when it is full; the
//     adapter uses its event callback instead, which runs synchronously in the library's goroutines, and
//     queues the translated events without bound for a forwarding goroutine. See Dial.
//
//   - Errors mapped to the port's sentinels, keeping the library's error in the chain and, when it says
//     something more, in the text.
//
//   - DESIGN §12 (Dialer.Credentials, Private, TLS): digest auth added before the session is reported
//     Connected (the library resends it first after every reconnection), one ACL (NodeACL) on every node the
//     Conn creates, Multi included, and TLS to the servers' secure client port, verified against a CA file
//     that may rotate.
//
//   - Hosts resolved at each connection attempt (by the TCP dialer) rather than once when dialing, as the
//     library's default host provider does: a name that does not resolve does not fail Dial, and a name
//     whose address changes is followed.
//
// Timing, inherited from go-zookeeper (and the same in the Java client):
//
//   - After losing a connection the client tries the other servers at once, but waits a second before it
//     tries again a server it already tried since its last success: with a single server every reconnection
//     takes at least a second. Session timeouts should be several seconds (ZooKeeper's default minimum is
//     two ticks, 4s).
//   - The client notices a silent server (a partition) after 2/3 of the session timeout; a closed connection
//     at once. Calls waiting for a connection fail with ErrConnectionLost once every server was tried.
//   - Expiry is the server's decision, learned when the client reaches a server again: while partitioned a
//     Conn stays Disconnected past its session timeout, however long. A caller that must stop acting once
//     the server may have expired its session (a leader) times its own disconnection.
//   - Close waits for the server's answer to closeSession; with no live connection it gives up after about a
//     second.
package gozk

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/runtime/zk"
)

// DefaultConnectTimeout bounds one TCP connection attempt to one server.
const DefaultConnectTimeout = time.Second

// DefaultMaxPacket is ZooKeeper's default jute.maxbuffer (0xfffff, 1 MiB - 1): the largest request a server
// accepts, and the largest answer the Java client takes. go-zookeeper's own buffers are 1.5 MB each.
const DefaultMaxPacket = 0xfffff

// libraryBuffer is go-zookeeper's own send buffer (its receive buffer starts as big and grows at need).
const libraryBuffer = 1536 * 1024

// Dialer opens ZooKeeper sessions with go-zookeeper. The zero value works (no logging, default timeouts).
type Dialer struct {
	// Logger receives the adapter's messages and, at debug level, the library's own (which are chatty).
	// Nil discards them.
	Logger *slog.Logger
	// ConnectTimeout bounds each TCP connection attempt to one server (TLS handshake included); 0 means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// DESIGN §12. Credentials, when set, gives the digest credentials each new session authenticates with
	// (asked at each Dial, so a rotated file is used from the next session on); every node the session
	// creates then carries NodeACL. Private drops world read from that ACL. TLS, when set, connects to the
	// servers' secure client port. Guarded lists nodes that should carry NodeACL: the first session logs one
	// WARN for each that exists and lets anyone change it (or, with Private, read it).
	Credentials Credentials
	Private     bool
	TLS         *security.ClientTLS
	Guarded     []string

	// MaxPacket bounds each packet the session sends or receives (its length prefix excluded): the
	// library's two buffers take that much of the heap for the session's life. 0: DefaultMaxPacket;
	// negative: the library's defaults (a 1.5 MB send buffer, answers of any size: for tools that must list
	// huge nodes). Bigger is only useful with servers whose jute.maxbuffer was raised.
	MaxPacket int
}

// Credentials gives the current ZooKeeper digest credentials; *security.ZKCredentialsFile is one.
type Credentials interface {
	Current() (security.ZKCredentials, error)
}

var _ zk.Dialer = (*Dialer)(nil)

// New returns a Dialer that logs to logger (nil: nowhere).
func New(logger *slog.Logger) *Dialer { return &Dialer{Logger: logger} }

// Dial starts a session with the ensemble and returns at once; the session's progress arrives on the event
// channel (DESIGN §5).
//
// Events, in order: StateConnecting at once; StateConnected with the session id when the server granted the
// session; then StateDisconnected / StateConnected pairs (same session id) while the session lives; at most
// one StateExpired; finally StateClosed, after which the channel is closed. StateClosed follows Close, or
// follows StateExpired on its own: an expired Conn tears itself down without waiting for Close (which is
// still allowed, and waits for the teardown to finish). Only changes of state are reported: the library's
// connection attempts while disconnected are not.
//
// The channel is fed by a goroutine from an unbounded queue, so the client library is never blocked by a
// slow consumer and no event is ever dropped: a consumer that falls behind only makes the queue grow, by one
// entry per change of state (a handful per reconnection). The consumer must drain the channel until it is
// closed; the forwarding goroutine ends when the consumer received StateClosed.
func (d *Dialer) Dial(e zk.Ensemble, sessionTimeout time.Duration) (zk.Conn, <-chan zk.SessionEvent, error) {
	if len(e.Servers) == 0 {
		return nil, nil, fmt.Errorf("%w: dial: no ZooKeeper server given", zk.ErrBadArguments)
	}
	if e.Chroot != "" {
		if err := zk.ValidatePath(e.Chroot); err != nil || e.Chroot == "/" {
			return nil, nil, fmt.Errorf("%w: dial: bad chroot %q", zk.ErrBadArguments, e.Chroot)
		}
	}
	if sessionTimeout <= 0 {
		return nil, nil, fmt.Errorf("%w: dial: session timeout %v must be positive", zk.ErrBadArguments, sessionTimeout)
	}

	var logger *slog.Logger
	connectTimeout := DefaultConnectTimeout
	maxPacket := DefaultMaxPacket
	if d != nil {
		logger = d.Logger
		if d.ConnectTimeout > 0 {
			connectTimeout = d.ConnectTimeout
		}
		if d.MaxPacket != 0 {
			maxPacket = d.MaxPacket
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("ensemble", e.String())

	var creds *security.ZKCredentials
	var private bool
	var tlsDial tlsDialer
	var guarded []string
	if d != nil {
		if d.Credentials != nil {
			cur, err := d.Credentials.Current()
			if err != nil {
				return nil, nil, fmt.Errorf("dial %s: %w", e, err)
			}
			creds = &cur
		}
		private, guarded = d.Private, d.Guarded
		if d.TLS != nil {
			tlsDial = d.TLS
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		chroot:         e.Chroot,
		log:            logger,
		acl:            NodeACL(creds, private),
		guarded:        guarded,
		tls:            tlsDial,
		ready:          make(chan struct{}),
		loopDone:       make(chan struct{}),
		watches:        make(map[*watch]struct{}),
		connectTimeout: connectTimeout,
		dialCtx:        ctx,
		cancelDial:     cancel,
		events:         newEventQueue(),
	}
	c.emitLocked(zk.StateConnecting, "") // nobody else holds c yet

	recvMax, sendBuf := maxPacket, 4+maxPacket // the send buffer holds the length prefix too
	if maxPacket < 0 {
		recvMax, sendBuf = 0, libraryBuffer
	}
	raw, rawEvents, err := gozk.Connect(e.Servers, sessionTimeout,
		gozk.WithLogger(libLogger{logger.With("component", "go-zookeeper")}),
		gozk.WithLogInfo(false),
		gozk.WithDialer(c.dial),
		gozk.WithHostProvider(&staticHosts{}),
		gozk.WithEventCallback(c.onEvent),
		gozk.WithMaxBufferSize(recvMax),
		gozk.WithMaxConnBufferSize(sendBuf),
	)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("dial %s: %w", e, err)
	}
	c.raw = raw
	if creds != nil {
		c.authData = creds.AuthData()
	}
	close(c.ready)

	// The library closes its event channel when its main loop has ended (after Close): that is how the
	// adapter knows every library goroutine is gone. The events themselves come through onEvent; this
	// channel drops events when full, so it is only drained.
	go func() {
		for range rawEvents {
		}
		close(c.loopDone)
	}()
	go c.events.run()
	return c, c.events.out, nil
}

// libLogger routes go-zookeeper's log lines to slog at debug level.
type libLogger struct{ l *slog.Logger }

func (a libLogger) Printf(format string, args ...any) {
	if a.l.Enabled(context.Background(), slog.LevelDebug) {
		a.l.Debug(fmt.Sprintf(format, args...))
	}
}

// staticHosts is a gozk.HostProvider that keeps the servers as given (Connect has shuffled them) and leaves
// name resolution to the TCP dialer, at each attempt. Its round-robin and retryStart follow the library's
// DNSHostProvider: retryStart is true once every server was tried since the last successful connection.
type staticHosts struct {
	servers    []string
	curr, last int
}

func (h *staticHosts) Init(servers []string) error {
	if len(servers) == 0 {
		return fmt.Errorf("%w: no servers", zk.ErrBadArguments)
	}
	h.servers = append([]string(nil), servers...)
	h.curr, h.last = -1, -1
	return nil
}

func (h *staticHosts) Len() int { return len(h.servers) }

// Next and Connected are only called from the library's connection loop (one goroutine).
func (h *staticHosts) Next() (string, bool) {
	h.curr = (h.curr + 1) % len(h.servers)
	retryStart := h.curr == h.last
	if h.last == -1 {
		h.last = 0
	}
	return h.servers[h.curr], retryStart
}

func (h *staticHosts) Connected() { h.last = h.curr }
