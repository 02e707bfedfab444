// Package zkmem is an in-memory ZooKeeper for deterministic tests (DESIGN §10, STYLE 4, 5, 12): a server
// holding one tree and its sessions, clients implementing zk.Conn and zk.Dialer, session timeouts on a
// clock.Clock (the virtual one in tests), and fault injection per session. It imports the port (runtime/zk)
// and never the real client. The shared conformance suite (testkit/zktest) runs against it and against the
// real adapter; where the two differ is written down below and pinned by tests (divergence_test.go).
//
// # What it implements, as ZooKeeper does
//
//   - Znodes with data and zk.Stat (czxid, mzxid, version, cversion, ephemeralOwner, numChildren,
//     dataLength) under one global zxid. Every write is one transaction with one zxid; so is a whole Multi,
//     the creation of a session and the end of one. A write that fails still uses up its zxid.
//   - Persistent, ephemeral and sequential modes. A sequential name is the path plus, as 10 zero-padded
//     digits, the number of children ever created under the parent (ZooKeeper's internal cversion): the
//     counter is per parent, shared by every prefix and by non-sequential children, and never goes back, but
//     deletions do not advance it. The cversion a Stat reports counts creations and deletions (ZooKeeper
//     reports 2*created - numChildren), so it is not the next sequence number once a child was deleted.
//     Ephemeral nodes cannot have children. Checks run in ZooKeeper's order (create:
//     bad path, missing parent, existing node, ephemeral parent; delete: missing, version, children).
//   - One-shot watches. A data watch (GetW, or ExistsW on an existing node) fires on set and delete; an
//     exist watch (ExistsW on a missing node) on create; a child watch (ChildrenW) on a child's create or
//     delete and on the node's delete. Failed calls set no watch. Each channel receives one event and is
//     closed. Events are sent, in the order the server produced them, before the write that caused them
//     returns: a session that reads new data always finds the events about it already in their channels.
//   - Multi: the operations run in order against the state the earlier ones left, and the first failure
//     undoes them all (nothing changes, no watch fires). The failing operation's result carries its error and
//     so does the call; every other result is empty (nil error), which is what the real adapter reports (the
//     server's "ok" before the failure and "runtime inconsistency" after it both become nil). An operation of
//     an unknown type or with a bad path fails the Multi before it reaches the server, as in the adapter.
//   - Chroots: Dial honours Ensemble.Chroot, prefixing every path sent and stripping it from every path
//     returned (created names, Multi results, watch events). The chroot node must exist; Dial does not create
//     it, and calls under a missing one fail with ErrNoNode, as with the adapter.
//
// # Sessions
//
// Dial returns a connected session: its event channel already holds StateConnecting then StateConnected (with
// the session id). The channel is buffered (DefaultEventBuffer, or WithEventBuffer) so a test needs no
// goroutine to drain it; an event that does not fit is dropped and recorded as a violation (see Violations).
// Session events follow the real adapter: StateConnected / StateDisconnected pairs while the session lives,
// at most one StateExpired, then StateClosed, after which the channel is closed. SessionEvent.SessionID is
// set on every event but StateConnecting. Conn.SessionID keeps the id after the session ended.
//
// A connected session never expires (its client heartbeats). Disconnect takes a session's connection down:
// the server arms an expiry timer of the session's timeout on its clock; Reconnect before it fires resumes
// the session (same id, ephemeral nodes and watches kept). When it fires, or on Expire, the server ends the
// session: its ephemeral nodes are deleted in one transaction (sorted by path), firing other sessions'
// watches, and its own watches are dropped. The client learns of it when it can talk to the server: at
// once if connected, else on Reconnect or Heal, as a real client learns it when it reconnects. It then sees
// StateExpired, EventNotWatching with ErrSessionExpired on every pending watch, then StateClosed; every call
// fails with ErrSessionExpired from then on, even after Close.
//
// Close on a connected session ends it on the server at once (its ephemeral nodes go). Close on a
// disconnected session cannot reach the server, as with the real client: its ephemeral nodes stay until the
// session times out. Either way pending watches get EventNotWatching with ErrClosed, then StateClosed, and
// calls fail with ErrClosed. Close is idempotent.
//
// While a session is disconnected, events for its watches are held back on the server. On Reconnect each
// pending watch is re-checked as ZooKeeper's setWatches does against the last zxid the client saw: a data
// watch fires NodeDeleted if its node is gone or NodeDataChanged if it changed, an exist watch NodeCreated if
// its node now exists, a child watch NodeDeleted or NodeChildrenChanged; the others stay armed.
//
// # Faults and hooks
//
// Per session, by id (Conn.SessionID): Disconnect, Reconnect, Expire, Partition (several), Heal (every
// disconnected session), FailNext (the next matching operation fails, not applied), FailNextAfterApply (it is
// applied, then fails: the lost-answer case). An OpHook sees every operation before it runs and may fail it,
// hold it, or advance the virtual clock to make it slow. Fault calls on an unknown session id return an error
// wrapping zk.ErrBadArguments; on a session that already ended they do nothing.
//
// Inspection: Sessions, Node, Zxid, Dump (sorted text of the sessions and the tree, for failure messages),
// Check (structural checks plus the invariants), AddInvariant / WithInvariant (checked after every committed
// write, with the write as a Commit: who wrote what), Violations, and WithTrace (every commit, session event
// and watch event as a line of text, in order: a transcript to compare, see testdata/scenario.trace).
//
// # Determinism
//
// The server starts no goroutine. Everything happens on the caller's goroutine, or on the clock's for expiry
// timers (with the virtual clock: the goroutine that advances it). No map order reaches a result: children
// are listed sorted, ephemeral nodes are deleted in path order, watches fire in registration order. Session
// ids count up from 1 (WithFirstSessionID). The same calls in the same order give the same trace.
//
// # Known divergences from a real ZooKeeper (through the real adapter)
//
//  1. A call made while the session is disconnected fails at once with ErrConnectionLost. The real client
//     queues it while it tries to reconnect: it is answered if the connection comes back soon, else failed
//     with ErrConnectionLost once a round of attempts failed (about a second with one server). Callers must
//     handle both.
//  2. Children are listed sorted by name. ZooKeeper gives no order; callers must not rely on one.
//  3. The tree starts with the root only: there is no /zookeeper subtree (config, quota).
//  4. A disconnected session expires exactly its timeout after Disconnect, on the clock. A real server expires
//     it between one timeout and one timeout plus a tick after it last heard from the client, and a real client
//     notices a silent connection only after two thirds of the timeout; a connection cut by the proxy or a
//     crash is noticed at once.
//  5. The requested session timeout is granted as is; ZooKeeper clamps it to [minSessionTimeout,
//     maxSessionTimeout] (2 and 20 ticks by default). WithSessionTimeoutBounds turns the clamping on.
//  6. Dial ignores the server list and never fails for lack of a server; the session is connected at once.
//  7. Reconnection re-checks watches in a fixed order (data, exist, child; each by path), where the real
//     client's comes from a map.
//  8. A session's own watches get EventNotWatching when it expires or closes, even for nodes its end
//     deletes; a real client may first receive NodeDeleted for its own ephemeral nodes.
//  9. No null data: nil is stored as the empty string, as the real adapter writes it (zk.Conn's contract). No ACLs, quotas, data size limit (1 MiB in ZooKeeper), container or TTL
//     nodes, sequence overflow past 2^31, or observers/followers: every session reads the latest state.
//  10. Session ids are small integers counting up, not the server-id-prefixed 64-bit numbers of ZooKeeper.
package zkmem
