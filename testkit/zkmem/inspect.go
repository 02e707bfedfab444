package zkmem

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
)

// Causes of a Commit that no client call made.
const (
	CauseClose  = "close"  // a client closed its session: its ephemeral nodes went
	CauseExpire = "expire" // a session expired: its ephemeral nodes went
)

// CommitOp is one change of a committed transaction, on a server path (the chroot included).
type CommitOp struct {
	Op   OpName // OpCreate, OpDelete or OpSet
	Path string // the created name for a sequential create
}

// Commit describes the last committed write.
type Commit struct {
	Zxid      int64
	SessionID int64  // the session that wrote, or whose end it was
	Cause     string // "" for a client's call, else CauseClose or CauseExpire
	Ops       []CommitOp
}

// Node is a read-only copy of a znode.
type Node struct {
	Path     string
	Data     []byte
	Stat     zk.Stat
	Children []string // sorted
}

// SessionInfo describes a session the server holds.
type SessionInfo struct {
	ID         int64
	Timeout    time.Duration
	Chroot     string
	Connected  bool     // its connection is up (false after Disconnect or Partition)
	Ephemerals []string // the nodes it owns, sorted (server paths)
	Watches    int      // its pending watches
}

// Invariant checks the server's state after a committed write. It runs under the server's lock: it may use
// the View, and must not call the Server or any Conn.
type Invariant func(v View) error

type namedInvariant struct {
	name string
	fn   Invariant
}

// View is the server's state as an invariant sees it. It is valid only during the call it was given to.
type View struct{ s *Server }

// Zxid is the last zxid used.
func (v View) Zxid() int64 { return v.s.zxid }

// LastCommit is the write that was just committed (in Check: the last one).
func (v View) LastCommit() Commit { return v.s.lastCommit }

// Node returns the node at a server path.
func (v View) Node(path string) (Node, bool) { return v.s.node(path) }

// Paths lists every node's path, sorted.
func (v View) Paths() []string { return v.s.paths() }

// Sessions lists the sessions the server holds, by id.
func (v View) Sessions() []SessionInfo { return v.s.sessionInfos() }

// AddInvariant adds an invariant checked after every committed write and by Check. A violation does not
// change what the server does: it is recorded (see Violations).
func (s *Server) AddInvariant(name string, fn Invariant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invariants = append(s.invariants, namedInvariant{name, fn})
}

// Violations returns what invariants and the server's own bookkeeping recorded, oldest first (at most the
// first 100). A test typically checks it is empty in t.Cleanup.
func (s *Server) Violations() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.violations...)
}

// Check runs the server's structural checks (every node's parent lists it, counts and lengths agree, no child
// under an ephemeral node, every ephemeral owner is a live session, zxids in order) and every invariant, now,
// and returns what failed, joined; nil if all hold.
func (s *Server) Check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := []error{s.structural()}
	for _, inv := range s.invariants {
		if err := inv.fn(View{s}); err != nil {
			errs = append(errs, fmt.Errorf("invariant %s: %w", inv.name, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Server) violate(err error) {
	if len(s.violations) < maxViolations {
		s.violations = append(s.violations, err)
	}
}

// commit records a transaction, fires its watches and checks the invariants. Caller holds mu.
func (s *Server) commit(x *txn, session int64, cause string) {
	s.lastCommit = Commit{Zxid: x.zxid, SessionID: session, Cause: cause, Ops: x.ops}
	if s.cfg.trace != nil {
		line := fmt.Sprintf("zxid %d session %d", x.zxid, session)
		if cause != "" {
			line += " " + cause
		}
		for i, op := range x.ops {
			if i > 0 {
				line += ","
			}
			line += fmt.Sprintf(" %s %s", op.Op, op.Path)
		}
		s.cfg.trace(line)
	}
	s.fire(x.events)
	for _, inv := range s.invariants {
		if err := inv.fn(View{s}); err != nil {
			s.violate(fmt.Errorf("zxid %d: invariant %s: %w", x.zxid, inv.name, err))
		}
	}
}

func (s *Server) structural() error {
	var errs []error
	for _, p := range s.paths() {
		n := s.nodes[p]
		if p != "/" {
			parent, ok := s.nodes[parentOf(p)]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("%s: parent missing", p))
			case parent.stat.EphemeralOwner != 0:
				errs = append(errs, fmt.Errorf("%s: parent is ephemeral", p))
			default:
				if _, listed := parent.children[p[strings.LastIndexByte(p, '/')+1:]]; !listed {
					errs = append(errs, fmt.Errorf("%s: not listed by its parent", p))
				}
			}
		}
		if int(n.stat.NumChildren) != len(n.children) {
			errs = append(errs, fmt.Errorf("%s: numChildren %d, %d children", p, n.stat.NumChildren, len(n.children)))
		}
		if n.stat.Cversion != 2*n.created-n.stat.NumChildren {
			errs = append(errs, fmt.Errorf("%s: cversion %d, want 2*%d created - %d children", p, n.stat.Cversion, n.created, n.stat.NumChildren))
		}
		if int(n.stat.DataLength) != len(n.data) {
			errs = append(errs, fmt.Errorf("%s: dataLength %d, %d bytes", p, n.stat.DataLength, len(n.data)))
		}
		if n.stat.Czxid > n.stat.Mzxid || n.stat.Mzxid > s.zxid || n.pzxid > s.zxid {
			errs = append(errs, fmt.Errorf("%s: zxids out of order (czxid %d, mzxid %d, pzxid %d, zxid %d)", p, n.stat.Czxid, n.stat.Mzxid, n.pzxid, s.zxid))
		}
		if o := n.stat.EphemeralOwner; o != 0 {
			if ss, ok := s.sessions[o]; !ok || !ss.live {
				errs = append(errs, fmt.Errorf("%s: owner session %d is not live", p, o))
			}
		}
		for c := range n.children {
			if _, ok := s.nodes[strings.TrimSuffix(p, "/")+"/"+c]; !ok {
				errs = append(errs, fmt.Errorf("%s: lists missing child %s", p, c))
			}
		}
	}
	return errors.Join(errs...)
}

func (s *Server) node(p string) (Node, bool) {
	n, ok := s.nodes[p]
	if !ok {
		return Node{}, false
	}
	return Node{Path: p, Data: copyData(n.data), Stat: n.stat, Children: n.childNames()}, true
}

func (s *Server) paths() []string {
	ps := make([]string, 0, len(s.nodes))
	for p := range s.nodes {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

func (s *Server) sessionInfos() []SessionInfo {
	var out []SessionInfo
	for _, ss := range s.sessions {
		if !ss.live {
			continue
		}
		out = append(out, SessionInfo{
			ID:         ss.id,
			Timeout:    ss.timeout,
			Chroot:     ss.chroot,
			Connected:  ss.link,
			Ephemerals: s.ephemeralsOf(ss.id),
			Watches:    s.watches.count(ss.id),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Sessions lists the sessions the server holds (not yet expired or closed on the server), by id.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionInfos()
}

// Zxid is the last zxid used.
func (s *Server) Zxid() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.zxid
}

// Node returns a copy of the node at a server path (the chroot included).
func (s *Server) Node(path string) (Node, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node(path)
}

// Dump renders the tree and the sessions as sorted text, one node per line, for test failure messages:
//
//	zxid 7
//	session 1 connected timeout 10s ephemerals 1 watches 0
//	/
//	/a v0 cv1 "hello"
//	/a/b v0 cv0 ephemeral=1 ""
func (s *Server) Dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "zxid %d\n", s.zxid)
	for _, si := range s.sessionInfos() {
		state := "connected"
		if !si.Connected {
			state = "disconnected"
		}
		fmt.Fprintf(&b, "session %d %s timeout %s", si.ID, state, si.Timeout)
		if si.Chroot != "" {
			fmt.Fprintf(&b, " chroot %s", si.Chroot)
		}
		fmt.Fprintf(&b, " ephemerals %d watches %d\n", len(si.Ephemerals), si.Watches)
	}
	for _, p := range s.paths() {
		if p == "/" {
			b.WriteString("/\n")
			continue
		}
		n := s.nodes[p]
		fmt.Fprintf(&b, "%s v%d cv%d", p, n.stat.Version, n.stat.Cversion)
		if n.stat.EphemeralOwner != 0 {
			fmt.Fprintf(&b, " ephemeral=%d", n.stat.EphemeralOwner)
		}
		data := string(n.data)
		if len(data) > 64 {
			data = data[:64] + "..."
		}
		fmt.Fprintf(&b, " %s\n", strconv.Quote(data))
	}
	return b.String()
}
