// Package zk is Ochopod's port to ZooKeeper: the few calls the actors use, in the project's own types, with the
// contract every implementation keeps. The real one (package gozk, over github.com/go-zookeeper/zk) and the
// in-memory one (testkit) both satisfy it, and a shared conformance suite holds them to it.
//
// The package imports no client library, so code that only needs the contract (actors, the in-memory
// ZooKeeper) never links the real client.
package zk

import (
	"errors"
	"time"
)

// Sentinel errors. Implementations map their own errors to these so that callers branch with errors.Is and
// never on text. Anything else is an operational failure (connection loss, server error) that callers retry.
var (
	ErrNoNode                  = errors.New("zk: node does not exist")
	ErrNodeExists              = errors.New("zk: node already exists")
	ErrBadVersion              = errors.New("zk: version conflict")
	ErrNotEmpty                = errors.New("zk: node has children")
	ErrNoChildrenForEphemerals = errors.New("zk: ephemeral nodes may not have children")
	ErrSessionExpired          = errors.New("zk: session expired")
	ErrConnectionLost          = errors.New("zk: connection lost")
	ErrClosed                  = errors.New("zk: connection closed")
	ErrBadArguments            = errors.New("zk: invalid arguments")
)

// CreateMode says what kind of znode Create makes.
type CreateMode int

// The create modes the project uses.
const (
	Persistent CreateMode = iota
	Ephemeral
	PersistentSequential
	EphemeralSequential
)

// Sequential reports whether the server appends a 10-digit counter to the name.
func (m CreateMode) Sequential() bool { return m == PersistentSequential || m == EphemeralSequential }

// IsEphemeral reports whether the node dies with the session that created it.
func (m CreateMode) IsEphemeral() bool { return m == Ephemeral || m == EphemeralSequential }

// AnyVersion matches every version in Delete, Set and Check.
const AnyVersion int32 = -1

// Stat is the subset of a znode's metadata the project reads.
type Stat struct {
	Czxid          int64 // zxid of the create
	Mzxid          int64 // zxid of the last data change
	Version        int32 // data version
	Cversion       int32 // child list version
	EphemeralOwner int64 // session id of the owner, 0 for persistent nodes
	NumChildren    int32
	DataLength     int32
}

// EventType is what a one-shot watch reports.
type EventType int

// Watch event types, as ZooKeeper defines them.
const (
	EventNodeCreated EventType = iota + 1
	EventNodeDeleted
	EventNodeDataChanged
	EventNodeChildrenChanged
	// EventNotWatching means the watch is gone without its event: the session expired or the connection was
	// closed. Err says why. A watcher treats it as "look again on a new session".
	EventNotWatching
)

func (t EventType) String() string {
	switch t {
	case EventNodeCreated:
		return "created"
	case EventNodeDeleted:
		return "deleted"
	case EventNodeDataChanged:
		return "data-changed"
	case EventNodeChildrenChanged:
		return "children-changed"
	case EventNotWatching:
		return "not-watching"
	}
	return "unknown"
}

// WatchEvent is delivered at most once on the channel a *W call returned; the channel is then closed.
type WatchEvent struct {
	Type EventType
	Path string
	Err  error // set with EventNotWatching
}

// SessionState is the client's view of its session.
type SessionState int

// Session states. The life of a Conn: Connecting, then Connected with a session id; Disconnected and Connected
// again any number of times while the session lives (watches and ephemeral nodes survive); Expired once the
// server dropped the session (the Conn is useless from then on: dial anew); Closed last, after Close or by
// itself right after Expired. A client learns of an expiry only when it reaches a server again: while
// partitioned it stays Disconnected however long, so callers that must act within the session timeout time
// their own Disconnected.
const (
	StateConnecting SessionState = iota + 1
	StateConnected
	StateDisconnected
	StateExpired
	StateClosed
)

func (s SessionState) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateExpired:
		return "expired"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}

// SessionEvent reports a change of SessionState.
type SessionEvent struct {
	State     SessionState
	SessionID int64  // the session's id, in every event after the first Connected; 0 before
	Server    string // the server the client talks to, when known
	// Err, in a Connecting event, is why the last attempt to reach a server failed (connection refused, no
	// such host): a client reports each new cause once, so that a person can act on it.
	Err string
}

// Conn is one ZooKeeper session.
//
// Contract:
//   - Paths are absolute and relative to the chroot the Conn was dialed with; returned paths are too.
//   - Calls are safe for concurrent use and block until the server answered or the call failed. While the
//     connection is down a call may wait for the reconnection; once the session expired or Close was called,
//     every call fails promptly (ErrSessionExpired, ErrClosed or ErrConnectionLost).
//   - A *W call that succeeds registers a one-shot watch whose channel receives exactly one WatchEvent and is
//     then closed. ExistsW on a missing node watches for its creation. Watches survive a reconnection within
//     the session; when the session ends they deliver EventNotWatching.
//   - ZooKeeper's ordering guarantee, in channel form: once a call returns data newer than a watched change,
//     that watch's event is already in its channel.
//   - A sequential node's suffix counts the children ever created under its parent (deletes do not lower it;
//     it is not Stat.Cversion, which counts deletes too), zero-padded to 10 digits.
//   - Multi applies all its operations or none. On failure the error is the failing operation's; in the
//     results only that operation has an Err, the others are zero. A Multi that never reached the server
//     returns no results.
//   - Nodes hold bytes, never null data (DESIGN §3): Create, Set and a Multi's CreateOp and SetOp write nil
//     data as the empty string, which reads back as an empty, non-nil slice. Get returns nil data only for a
//     node another client wrote as null.
type Conn interface {
	Create(path string, data []byte, mode CreateMode) (string, error)
	Delete(path string, version int32) error
	Exists(path string) (bool, Stat, error)
	ExistsW(path string) (bool, Stat, <-chan WatchEvent, error)
	Get(path string) ([]byte, Stat, error)
	GetW(path string) ([]byte, Stat, <-chan WatchEvent, error)
	Children(path string) ([]string, Stat, error)
	ChildrenW(path string) ([]string, Stat, <-chan WatchEvent, error)
	Set(path string, data []byte, version int32) (Stat, error)
	Multi(ops ...Op) ([]OpResult, error)

	// SessionID is the session's id: 0 before the first connection, kept after the session ended.
	SessionID() int64
	// Close ends the session: the server deletes its ephemeral nodes at once. The session event channel is
	// closed after its last event. Close is idempotent. After Close (or an expiry) every call fails with
	// ErrClosed or ErrSessionExpired.
	Close()
}

// Dialer opens sessions. Dial returns at once; the session's progress arrives on the event channel, which
// the caller must drain until it is closed. With a chroot, the chroot node must exist already: a Dialer does
// not create it (a typo would plant nodes on a shared ensemble).
type Dialer interface {
	Dial(ensemble Ensemble, sessionTimeout time.Duration) (Conn, <-chan SessionEvent, error)
}

// Op is one operation of a Multi.
type Op interface{ isOp() }

// CreateOp creates a node within a Multi.
type CreateOp struct {
	Path string
	Data []byte
	Mode CreateMode
}

// DeleteOp deletes a node within a Multi.
type DeleteOp struct {
	Path    string
	Version int32
}

// SetOp sets a node's data within a Multi.
type SetOp struct {
	Path    string
	Data    []byte
	Version int32
}

// CheckOp fails the Multi unless the node exists with the version (AnyVersion: exists at all).
type CheckOp struct {
	Path    string
	Version int32
}

func (CreateOp) isOp() {}
func (DeleteOp) isOp() {}
func (SetOp) isOp()    {}
func (CheckOp) isOp()  {}

// OpResult is the outcome of one operation of a Multi.
type OpResult struct {
	Path string // the created path, for a CreateOp
	Stat Stat   // for a SetOp
	Err  error  // nil, or why this operation failed (in a failed Multi, operations that did not fail report nil)
}
