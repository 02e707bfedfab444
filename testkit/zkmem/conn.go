package zkmem

import (
	"fmt"
	"strings"

	"github.com/ochopod/ochopod/runtime/zk"
)

// conn is a client of the server: a zk.Conn over one session.
type conn struct {
	srv *Server
	ss  *session
}

var _ zk.Conn = (*conn)(nil)

func (c *conn) full(p string) string {
	switch {
	case c.ss.chroot == "":
		return p
	case p == "/":
		return c.ss.chroot
	}
	return c.ss.chroot + p
}

func (c *conn) strip(p string) string {
	switch {
	case c.ss.chroot == "":
		return p
	case p == c.ss.chroot:
		return "/"
	case strings.HasPrefix(p, c.ss.chroot+"/"):
		return p[len(c.ss.chroot):]
	}
	return p
}

// stateErr is the error every call gets in the client's current state, nil when connected. Caller holds mu.
func (c *conn) stateErr() error {
	switch c.ss.client {
	case clientClosed:
		return zk.ErrClosed
	case clientExpired:
		return zk.ErrSessionExpired
	case clientDisconnected:
		return zk.ErrConnectionLost
	}
	return nil
}

// call runs one operation: state check, the op hook (without the lock, so it may advance the clock), state
// check again, injected failures, then fn under the lock. p is the client's path, already validated.
func (c *conn) call(op OpName, p string, fn func() error) error {
	s := c.srv
	s.mu.Lock()
	err, hook := c.stateErr(), s.hook
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if hook != nil {
		if err := hook(c.ss.id, op, p); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.stateErr(); err != nil {
		return err
	}
	f, ok := c.ss.takeFailure(op)
	if ok && !f.afterApply {
		return f.err
	}
	if err := fn(); err != nil {
		return err
	}
	if ok {
		return f.err
	}
	return nil
}

func wrap(op OpName, p string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("zkmem: %s %s: %w", op, p, err)
}

// write runs fn in a transaction under a new zxid: committed (watches fire, invariants run) if fn succeeds,
// rolled back otherwise. As in ZooKeeper, a failed write still uses up its zxid. Caller holds mu.
func (s *Server) write(session int64, fn func(x *txn) error) error {
	s.zxid++
	x := &txn{nodes: s.nodes, zxid: s.zxid}
	if err := fn(x); err != nil {
		x.rollback()
		return err
	}
	s.commit(x, session, "")
	return nil
}

func (c *conn) Create(p string, data []byte, mode zk.CreateMode) (string, error) {
	if err := zk.ValidatePath(p); err != nil {
		return "", wrap(OpCreate, p, err)
	}
	var name string
	err := c.call(OpCreate, p, func() error {
		return c.srv.write(c.ss.id, func(x *txn) error {
			n, err := x.create(c.full(p), data, mode, c.ss.id)
			name = n
			return err
		})
	})
	if err != nil {
		return "", wrap(OpCreate, p, err)
	}
	return c.strip(name), nil
}

func (c *conn) Delete(p string, version int32) error {
	if err := zk.ValidatePath(p); err != nil {
		return wrap(OpDelete, p, err)
	}
	return wrap(OpDelete, p, c.call(OpDelete, p, func() error {
		return c.srv.write(c.ss.id, func(x *txn) error { return x.remove(c.full(p), version) })
	}))
}

func (c *conn) Set(p string, data []byte, version int32) (zk.Stat, error) {
	if err := zk.ValidatePath(p); err != nil {
		return zk.Stat{}, wrap(OpSet, p, err)
	}
	var st zk.Stat
	err := c.call(OpSet, p, func() error {
		return c.srv.write(c.ss.id, func(x *txn) (err error) {
			st, err = x.set(c.full(p), data, version)
			return err
		})
	})
	if err != nil {
		return zk.Stat{}, wrap(OpSet, p, err)
	}
	return st, nil
}

func (c *conn) Exists(p string) (bool, zk.Stat, error) {
	ok, st, _, err := c.exists(p, false)
	return ok, st, err
}

func (c *conn) ExistsW(p string) (bool, zk.Stat, <-chan zk.WatchEvent, error) {
	return c.exists(p, true)
}

func (c *conn) exists(p string, watch bool) (bool, zk.Stat, <-chan zk.WatchEvent, error) {
	if err := zk.ValidatePath(p); err != nil {
		return false, zk.Stat{}, nil, wrap(OpExists, p, err)
	}
	var (
		found bool
		st    zk.Stat
		ch    <-chan zk.WatchEvent
	)
	err := c.call(OpExists, p, func() error {
		full := c.full(p)
		n, ok := c.srv.nodes[full]
		found = ok
		kind := watchExist
		if ok {
			st, kind = n.stat, watchData
		}
		if watch {
			ch = c.srv.watches.add(c.ss.id, kind, full, p).ch
		}
		return nil
	})
	if err != nil {
		return false, zk.Stat{}, nil, wrap(OpExists, p, err)
	}
	return found, st, ch, nil
}

func (c *conn) Get(p string) ([]byte, zk.Stat, error) {
	data, st, _, err := c.get(p, false)
	return data, st, err
}

func (c *conn) GetW(p string) ([]byte, zk.Stat, <-chan zk.WatchEvent, error) {
	return c.get(p, true)
}

func (c *conn) get(p string, watch bool) ([]byte, zk.Stat, <-chan zk.WatchEvent, error) {
	if err := zk.ValidatePath(p); err != nil {
		return nil, zk.Stat{}, nil, wrap(OpGet, p, err)
	}
	var (
		data []byte
		st   zk.Stat
		ch   <-chan zk.WatchEvent
	)
	err := c.call(OpGet, p, func() error {
		full := c.full(p)
		n, ok := c.srv.nodes[full]
		if !ok {
			return zk.ErrNoNode
		}
		data, st = copyData(n.data), n.stat
		if watch {
			ch = c.srv.watches.add(c.ss.id, watchData, full, p).ch
		}
		return nil
	})
	if err != nil {
		return nil, zk.Stat{}, nil, wrap(OpGet, p, err)
	}
	return data, st, ch, nil
}

func (c *conn) Children(p string) ([]string, zk.Stat, error) {
	names, st, _, err := c.children(p, false)
	return names, st, err
}

func (c *conn) ChildrenW(p string) ([]string, zk.Stat, <-chan zk.WatchEvent, error) {
	return c.children(p, true)
}

func (c *conn) children(p string, watch bool) ([]string, zk.Stat, <-chan zk.WatchEvent, error) {
	if err := zk.ValidatePath(p); err != nil {
		return nil, zk.Stat{}, nil, wrap(OpChildren, p, err)
	}
	var (
		names []string
		st    zk.Stat
		ch    <-chan zk.WatchEvent
	)
	err := c.call(OpChildren, p, func() error {
		full := c.full(p)
		n, ok := c.srv.nodes[full]
		if !ok {
			return zk.ErrNoNode
		}
		names, st = n.childNames(), n.stat
		if watch {
			ch = c.srv.watches.add(c.ss.id, watchChild, full, p).ch
		}
		return nil
	})
	if err != nil {
		return nil, zk.Stat{}, nil, wrap(OpChildren, p, err)
	}
	return names, st, ch, nil
}

// Multi applies the operations in one transaction under one zxid. An operation of an unknown type or with a
// bad path fails the Multi before it reaches the server, as in the real adapter. Otherwise, as in ZooKeeper,
// the operations are tried in order against the state the earlier ones left, and the first that fails undoes
// them all: the result of that operation carries its error, every other result is empty (nil error, no path,
// no stat), which is what the real adapter reports. A Multi that did not run (session over, connection down,
// injected failure) returns no results.
func (c *conn) Multi(ops ...zk.Op) ([]zk.OpResult, error) {
	for i, o := range ops {
		if err := validateOp(o); err != nil {
			res := make([]zk.OpResult, len(ops))
			res[i].Err = err
			return res, fmt.Errorf("zkmem: multi: operation %d: %w", i, err)
		}
	}
	res := make([]zk.OpResult, len(ops))
	var opErr error
	err := c.call(OpMulti, "", func() error {
		return c.srv.write(c.ss.id, func(x *txn) error {
			for i, o := range ops {
				if err := c.applyOp(x, o, &res[i]); err != nil {
					res = make([]zk.OpResult, len(ops))
					opErr = fmt.Errorf("zkmem: multi: operation %d (%s): %w", i, opPath(o), err)
					res[i].Err = opErr
					return opErr
				}
			}
			return nil
		})
	})
	switch {
	case opErr != nil:
		return res, opErr
	case err != nil:
		return nil, wrap(OpMulti, "", err)
	}
	return res, nil
}

func validateOp(o zk.Op) error {
	switch o := o.(type) {
	case zk.CreateOp:
		if o.Mode < zk.Persistent || o.Mode > zk.EphemeralSequential {
			return fmt.Errorf("%w: unknown create mode %d", zk.ErrBadArguments, o.Mode)
		}
		return zk.ValidatePath(o.Path)
	case zk.DeleteOp:
		return zk.ValidatePath(o.Path)
	case zk.SetOp:
		return zk.ValidatePath(o.Path)
	case zk.CheckOp:
		return zk.ValidatePath(o.Path)
	}
	return fmt.Errorf("%w: unknown operation %T", zk.ErrBadArguments, o)
}

func opPath(o zk.Op) string {
	switch o := o.(type) {
	case zk.CreateOp:
		return "create " + o.Path
	case zk.DeleteOp:
		return "delete " + o.Path
	case zk.SetOp:
		return "set " + o.Path
	case zk.CheckOp:
		return "check " + o.Path
	}
	return fmt.Sprintf("%T", o)
}

func (c *conn) applyOp(x *txn, o zk.Op, r *zk.OpResult) error {
	switch o := o.(type) {
	case zk.CreateOp:
		name, err := x.create(c.full(o.Path), o.Data, o.Mode, c.ss.id)
		r.Path = c.strip(name)
		return err
	case zk.DeleteOp:
		return x.remove(c.full(o.Path), o.Version)
	case zk.SetOp:
		st, err := x.set(c.full(o.Path), o.Data, o.Version)
		r.Stat = st
		return err
	case zk.CheckOp:
		return x.check(c.full(o.Path), o.Version)
	}
	return fmt.Errorf("%w: unknown operation %T", zk.ErrBadArguments, o)
}

// SessionID is the session's id; it stays the same after the session ended.
func (c *conn) SessionID() int64 { return c.ss.id }

// Close ends the session (see Server.closeSession); it is idempotent.
func (c *conn) Close() {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	c.srv.closeSession(c.ss)
}
