package gozk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/ochopod/ochopod/runtime/zk"
)

// conn is one session: a zk.Conn over a *gozk.Conn.
//
// Goroutines: the library's own (ended by raw.Close, see shutdown), one draining the library's event channel
// (ends with the library's loop), the event forwarder (ends once the consumer received StateClosed), one per
// pending watch (ends when the watch fired, at the latest when the library's loop ended) and, with a chroot,
// one short-lived check when the session starts. shutdown waits for all but the forwarder.
type conn struct {
	raw            *gozk.Conn
	chroot         string
	log            *slog.Logger
	acl            []gozk.ACL // of every node the Conn creates (NodeACL)
	authData       []byte     // digest credentials the session authenticates with; nil: none
	guarded        []string   // nodes that should carry acl: checked once the session is authenticated
	tls            tlsDialer  // nil: plain TCP
	connectTimeout time.Duration
	dialCtx        context.Context // cancelled by shutdown, so a connection attempt in progress ends at once
	cancelDial     context.CancelFunc
	ready          chan struct{} // closed once raw is set
	loopDone       chan struct{} // closed when the library's loop (and every goroutine it started) ended
	events         *eventQueue
	wg             sync.WaitGroup // watch forwarders and the chroot check
	shutdownOnce   sync.Once

	mu        sync.Mutex
	state     zk.SessionState // the last state reported
	sid       int64           // the session's id, set once
	expired   bool            // the session expired: every call fails with ErrSessionExpired
	closed    bool            // Close was called: every call fails with ErrClosed
	noDial    bool            // the library may not open connections any more
	netConn   net.Conn        // the library's current TCP connection
	dialErr   string          // the last cause reported by reportDialError
	loopEnded bool            // loopDone is closed: new watches need no goroutine
	libUp     bool            // the library holds a live connection with the session
	authing   bool            // an authentication is in flight
	authed    bool            // the session holds the credentials (the library resends them on reconnects)
	watches   map[*watch]struct{}
}

var _ zk.Conn = (*conn)(nil)

// ---- session

// onEvent is the library's event callback. It runs synchronously in the library's goroutines (its
// connection loop for session states) and must not block: it only updates state and queues events.
func (c *conn) onEvent(ev gozk.Event) {
	if ev.Type != gozk.EventSession {
		return // node events reach the watch channels; EventNotWatching too
	}
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expired || c.closed {
		return // the end is reported by expireLocked and shutdown
	}
	switch ev.State {
	case gozk.StateHasSession:
		sid := c.raw.SessionID()
		if c.sid == 0 {
			c.sid = sid
			c.log.Info("zookeeper session established", "session", fmt.Sprintf("%#x", sid), "server", ev.Server)
			if c.chroot != "" {
				c.wg.Add(1) // before the library's loop can end, so before shutdown's Wait
				go c.checkChroot()
			}
		} else if sid != c.sid {
			// Cannot happen: after an expiry the dialer refuses to connect. Should it anyway, the new session
			// is not ours to use.
			c.log.Error("zookeeper client opened a new session behind our back", "session", fmt.Sprintf("%#x", sid))
			c.expireLocked()
			return
		}
		c.libUp = true
		if c.authData != nil && !c.authed {
			// DESIGN §12: Connected is reported once the session holds the credentials, so nothing is
			// created before the digest is in force.
			if !c.authing {
				c.authing = true
				c.wg.Add(1)
				go c.authenticate(ev.Server)
			}
			return
		}
		if c.state == zk.StateDisconnected {
			c.log.Info("zookeeper connection restored", "session", fmt.Sprintf("%#x", sid), "server", ev.Server)
		}
		if c.state != zk.StateConnected {
			c.emitLocked(zk.StateConnected, ev.Server)
		}
	case gozk.StateDisconnected:
		c.libUp = false
		if c.state == zk.StateConnected {
			c.log.Info("zookeeper connection lost", "session", fmt.Sprintf("%#x", c.sid), "server", ev.Server)
			c.emitLocked(zk.StateDisconnected, ev.Server)
		}
	case gozk.StateExpired:
		c.expireLocked()
	case gozk.StateAuthFailed:
		c.log.Warn("zookeeper authentication failed", "server", ev.Server)
	default:
		// StateConnecting and StateConnected (TCP up, no session yet) are part of Connecting or Disconnected.
	}
}

// expireLocked ends the Conn after its session expired: no more connections (the library would open a new
// session), StateExpired, and a teardown that reports StateClosed.
func (c *conn) expireLocked() {
	c.expired = true
	c.noDial = true
	c.log.Warn("zookeeper session expired", "session", fmt.Sprintf("%#x", c.sid))
	c.emitLocked(zk.StateExpired, "")
	go c.shutdown()
}

func (c *conn) emitLocked(s zk.SessionState, server string) {
	c.state = s
	ev := zk.SessionEvent{State: s, Server: server}
	if s != zk.StateConnecting {
		ev.SessionID = c.sid
	}
	c.events.push(ev, s == zk.StateClosed)
}

// reportDialError tells the consumer why a server cannot be reached: a Connecting event with the cause, once
// per new cause (the library retries every server over and over), none once the Conn is ending.
func (c *conn) reportDialError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.expired || c.noDial || err.Error() == c.dialErr {
		return
	}
	c.dialErr = err.Error()
	c.events.push(zk.SessionEvent{State: zk.StateConnecting, Err: c.dialErr}, false)
}

// dial is the library's TCP dialer. It refuses once the session expired or the Conn is shutting down, which
// is what keeps the library from opening a second session.
func (c *conn) dial(network, addr string, _ time.Duration) (net.Conn, error) {
	c.mu.Lock()
	refuse, prev := c.noDial, c.netConn
	c.netConn = nil
	c.mu.Unlock()
	if prev != nil {
		prev.Close() // the library is done with it (it leaves it open after an expired handshake)
	}
	if refuse {
		return nil, errNoDial
	}
	ctx, cancel := context.WithTimeout(c.dialCtx, c.connectTimeout)
	defer cancel()
	var nc net.Conn
	var err error
	if c.tls != nil {
		nc, err = c.tls.DialContext(ctx, network, addr) // DESIGN §12: the handshake verifies the server
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, network, addr)
	}
	if err != nil {
		c.reportDialError(err)
		return nil, err
	}
	c.mu.Lock()
	refuse = c.noDial
	if !refuse {
		c.netConn = nc
	}
	c.mu.Unlock()
	if refuse {
		nc.Close()
		return nil, errNoDial
	}
	return nc, nil
}

var errNoDial = errors.New("gozk: connection refused by the adapter: session over")

// shutdown ends the session and waits until every goroutine but the event forwarder is gone, then reports
// StateClosed. It runs once, from Close or after an expiry.
func (c *conn) shutdown() {
	c.shutdownOnce.Do(func() {
		// Sends closeSession and waits for the answer (the server has deleted our ephemeral nodes when it
		// answers) for at most about a second, the library's limit when the server is unreachable.
		c.raw.Close()

		// Whatever the library is doing now (reconnecting, waiting for a silent server) is cut short.
		c.mu.Lock()
		c.noDial = true
		nc := c.netConn
		c.netConn = nil
		c.mu.Unlock()
		c.cancelDial()
		if nc != nil {
			nc.Close()
		}
		<-c.loopDone // the library flushed its requests and fired every watch with EventNotWatching

		c.mu.Lock()
		c.loopEnded = true
		c.mu.Unlock()
		c.wg.Wait()

		c.mu.Lock()
		if c.sid != 0 {
			c.log.Info("zookeeper session closed", "session", fmt.Sprintf("%#x", c.sid))
		} else {
			c.log.Debug("zookeeper client closed before it had a session")
		}
		c.emitLocked(zk.StateClosed, "")
		c.mu.Unlock()
	})
}

// Close ends the session (the server deletes its ephemeral nodes) and returns when the client's goroutines
// are gone; it waits at most about a second for an unreachable server. It is idempotent.
func (c *conn) Close() {
	c.mu.Lock()
	if !c.expired {
		c.closed = true
	}
	c.mu.Unlock()
	c.shutdown()
}

func (c *conn) SessionID() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sid
}

// checkChroot warns when the chroot node is missing: every call would fail with ErrNoNode.
func (c *conn) checkChroot() {
	defer c.wg.Done()
	ok, _, err := c.raw.Exists(c.chroot)
	if err == nil && !ok {
		c.log.Warn("zookeeper chroot does not exist; create it before use", "path", c.chroot)
	}
}

// ---- paths

func (c *conn) full(p string) string {
	if c.chroot == "" {
		return p
	}
	if p == "/" {
		return c.chroot
	}
	return c.chroot + p
}

func (c *conn) strip(p string) string {
	switch {
	case c.chroot == "":
		return p
	case p == c.chroot:
		return "/"
	case strings.HasPrefix(p, c.chroot+"/"):
		return p[len(c.chroot):]
	}
	return p // not under the chroot: cannot happen for our own requests
}

// ---- calls

// enter checks that the Conn is usable and the path valid, and gives the path on the server.
func (c *conn) enter(op, p string) (string, error) {
	if kind := c.terminal(); kind != nil {
		return "", &opError{op: op, path: p, kind: kind}
	}
	if err := zk.ValidatePath(p); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	return c.full(p), nil
}

// terminal is the error every call gets once the session is over, nil while it lives.
func (c *conn) terminal() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.expired:
		return zk.ErrSessionExpired
	case c.closed:
		return zk.ErrClosed
	}
	return nil
}

// leave runs after every call to the library: it moves the watch events that arrived before the call's
// answer to their channels (see syncWatches) and maps the error.
func (c *conn) leave(op, p string, err error) error {
	c.syncWatches()
	if err == nil {
		return nil
	}
	return c.mapErr(op, p, err)
}

func (c *conn) Create(p string, data []byte, mode zk.CreateMode) (string, error) {
	const op = "create"
	full, err := c.enter(op, p)
	if err != nil {
		return "", err
	}
	flags, err := createFlags(mode)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", op, p, err)
	}
	got, err := c.raw.Create(full, bytesOf(data), flags, c.acl)
	if err := c.leave(op, p, err); err != nil {
		return "", err
	}
	return c.strip(got), nil
}

func (c *conn) Delete(p string, version int32) error {
	const op = "delete"
	full, err := c.enter(op, p)
	if err != nil {
		return err
	}
	return c.leave(op, p, c.raw.Delete(full, version))
}

func (c *conn) Exists(p string) (bool, zk.Stat, error) {
	const op = "exists"
	full, err := c.enter(op, p)
	if err != nil {
		return false, zk.Stat{}, err
	}
	ok, st, err := c.raw.Exists(full)
	if err := c.leave(op, p, err); err != nil {
		return false, zk.Stat{}, err
	}
	return ok, stat(st), nil
}

func (c *conn) ExistsW(p string) (bool, zk.Stat, <-chan zk.WatchEvent, error) {
	const op = "exists"
	full, err := c.enter(op, p)
	if err != nil {
		return false, zk.Stat{}, nil, err
	}
	ok, st, ch, err := c.raw.ExistsW(full)
	if err != nil {
		return false, zk.Stat{}, nil, c.leave(op, p, err)
	}
	w := c.addWatch(ch)
	c.syncWatches()
	return ok, stat(st), w, nil
}

func (c *conn) Get(p string) ([]byte, zk.Stat, error) {
	const op = "get"
	full, err := c.enter(op, p)
	if err != nil {
		return nil, zk.Stat{}, err
	}
	data, st, err := c.raw.Get(full)
	if err := c.leave(op, p, err); err != nil {
		return nil, zk.Stat{}, err
	}
	return data, stat(st), nil
}

// maxInFlight bounds the reads GetAll has in flight at once: enough to hide the round trips, few enough not
// to flood the server (and the library's send queue) with a cluster of thousands of pods.
const maxInFlight = 64

var _ zk.Pipeliner = (*conn)(nil)

// GetAll implements zk.Pipeliner: the library pipelines concurrent calls on its one socket.
func (c *conn) GetAll(paths []string) []zk.Read {
	out := make([]zk.Read, len(paths))
	slots := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for i, p := range paths {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			out[i].Data, out[i].Stat, out[i].Err = c.Get(p)
		})
	}
	wg.Wait()
	return out
}

func (c *conn) GetW(p string) ([]byte, zk.Stat, <-chan zk.WatchEvent, error) {
	const op = "get"
	full, err := c.enter(op, p)
	if err != nil {
		return nil, zk.Stat{}, nil, err
	}
	data, st, ch, err := c.raw.GetW(full)
	if err != nil {
		return nil, zk.Stat{}, nil, c.leave(op, p, err)
	}
	w := c.addWatch(ch)
	c.syncWatches()
	return data, stat(st), w, nil
}

func (c *conn) Children(p string) ([]string, zk.Stat, error) {
	const op = "children"
	full, err := c.enter(op, p)
	if err != nil {
		return nil, zk.Stat{}, err
	}
	names, st, err := c.raw.Children(full)
	if err := c.leave(op, p, err); err != nil {
		return nil, zk.Stat{}, err
	}
	return names, stat(st), nil
}

func (c *conn) ChildrenW(p string) ([]string, zk.Stat, <-chan zk.WatchEvent, error) {
	const op = "children"
	full, err := c.enter(op, p)
	if err != nil {
		return nil, zk.Stat{}, nil, err
	}
	names, st, ch, err := c.raw.ChildrenW(full)
	if err != nil {
		return nil, zk.Stat{}, nil, c.leave(op, p, err)
	}
	w := c.addWatch(ch)
	c.syncWatches()
	return names, stat(st), w, nil
}

func (c *conn) Set(p string, data []byte, version int32) (zk.Stat, error) {
	const op = "set"
	full, err := c.enter(op, p)
	if err != nil {
		return zk.Stat{}, err
	}
	st, err := c.raw.Set(full, bytesOf(data), version)
	if err := c.leave(op, p, err); err != nil {
		return zk.Stat{}, err
	}
	return stat(st), nil
}

// Multi runs the operations in one transaction. go-zookeeper reports a failed transaction with one result
// per operation: the failing one carries the server's error, those before it "ok" and those after it
// "runtime inconsistency" (they were not tried); the adapter reports nil for all but the failing one, as the
// port says. When the transaction did not reach the server (connection lost...) there are no results.
func (c *conn) Multi(ops ...zk.Op) ([]zk.OpResult, error) {
	const op = "multi"
	if kind := c.terminal(); kind != nil {
		return nil, &opError{op: op, kind: kind}
	}
	reqs := make([]any, len(ops))
	paths := make([]string, len(ops))
	for i, o := range ops {
		req, p, err := c.multiOp(o)
		if err != nil {
			res := make([]zk.OpResult, len(ops))
			res[i].Err = err
			return res, fmt.Errorf("%s: operation %d: %w", op, i, err)
		}
		reqs[i], paths[i] = req, p
	}
	resp, err := c.raw.Multi(reqs...)
	c.syncWatches()
	if err != nil && len(resp) != len(ops) {
		return nil, c.mapErr(op, "", err)
	}
	res := make([]zk.OpResult, len(ops))
	var first error
	for i, r := range resp {
		if r.Error != nil {
			if first == nil {
				first = c.mapErr(op, paths[i], r.Error)
				res[i].Err = first
			}
			continue
		}
		switch ops[i].(type) {
		case zk.CreateOp:
			res[i].Path = c.strip(r.String)
		case zk.SetOp:
			res[i].Stat = stat(r.Stat)
		}
	}
	if err == nil && first == nil {
		return res, nil
	}
	if first == nil { // the library says it failed but no operation does: keep its word
		first = c.mapErr(op, "", err)
	} else {
		// Results of operations that were not applied mean nothing.
		for i := range res {
			res[i].Path, res[i].Stat = "", zk.Stat{}
		}
	}
	return res, first
}

// multiOp translates one operation of a Multi to the library's request, with the path on the server.
func (c *conn) multiOp(o zk.Op) (req any, p string, err error) {
	switch o := o.(type) {
	case zk.CreateOp:
		flags, err := createFlags(o.Mode)
		if err == nil {
			err = zk.ValidatePath(o.Path)
		}
		return &gozk.CreateRequest{Path: c.full(o.Path), Data: bytesOf(o.Data), Acl: c.acl, Flags: flags}, o.Path, err
	case zk.DeleteOp:
		return &gozk.DeleteRequest{Path: c.full(o.Path), Version: o.Version}, o.Path, zk.ValidatePath(o.Path)
	case zk.SetOp:
		return &gozk.SetDataRequest{Path: c.full(o.Path), Data: bytesOf(o.Data), Version: o.Version}, o.Path, zk.ValidatePath(o.Path)
	case zk.CheckOp:
		return &gozk.CheckVersionRequest{Path: c.full(o.Path), Version: o.Version}, o.Path, zk.ValidatePath(o.Path)
	}
	return nil, "", fmt.Errorf("%w: unknown operation %T", zk.ErrBadArguments, o)
}

func createFlags(m zk.CreateMode) (int32, error) {
	switch m {
	case zk.Persistent:
		return gozk.FlagPersistent, nil
	case zk.Ephemeral:
		return gozk.FlagEphemeral, nil
	case zk.PersistentSequential:
		return gozk.FlagSequence, nil
	case zk.EphemeralSequential:
		return gozk.FlagEphemeralSequential, nil
	}
	return 0, fmt.Errorf("%w: unknown create mode %d", zk.ErrBadArguments, m)
}

func stat(s *gozk.Stat) zk.Stat {
	if s == nil {
		return zk.Stat{}
	}
	return zk.Stat{
		Czxid:          s.Czxid,
		Mzxid:          s.Mzxid,
		Version:        s.Version,
		Cversion:       s.Cversion,
		EphemeralOwner: s.EphemeralOwner,
		NumChildren:    s.NumChildren,
		DataLength:     s.DataLength,
	}
}

// bytesOf is data, or the empty string for nil: the library sends nil as null data, which the original's
// pods fail to decode (DESIGN §3: every node holds bytes, as Kazoo writes them).
func bytesOf(data []byte) []byte {
	if data == nil {
		return []byte{}
	}
	return data
}
