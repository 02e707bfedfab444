package zk

import (
	"errors"
	"fmt"
	"strings"
)

// EnsurePath creates p and its missing parents as empty persistent nodes. Nodes that exist already are left
// as they are, so concurrent callers do not fail each other.
func EnsurePath(c Conn, p string) error {
	if err := ValidatePath(p); err != nil {
		return err
	}
	if p == "/" {
		return nil
	}
	if ok, _, err := c.Exists(p); err != nil {
		return fmt.Errorf("ensure %s: %w", p, err)
	} else if ok {
		return nil
	}
	segs := strings.Split(p[1:], "/")
	cur := ""
	for _, s := range segs {
		cur += "/" + s
		if _, err := c.Create(cur, nil, Persistent); err != nil && !errors.Is(err, ErrNodeExists) {
			return fmt.Errorf("ensure %s: %w", cur, err)
		}
	}
	return nil
}

// Fenced runs ops in one Multi that first checks the fencing node (the leader's lock node) still exists. A
// deposed leader, whose lock node is gone, gets ErrNoNode and nothing is written.
func Fenced(c Conn, fence string, ops ...Op) ([]OpResult, error) {
	all := make([]Op, 0, len(ops)+1)
	all = append(all, CheckOp{Path: fence, Version: AnyVersion})
	all = append(all, ops...)
	res, err := c.Multi(all...)
	if err != nil {
		if len(res) > 0 && res[0].Err != nil {
			return res, fmt.Errorf("%w: fence %s: %w", ErrFenced, fence, res[0].Err)
		}
		return res, err
	}
	return res[1:], nil
}

// ErrFenced is wrapped by Fenced when the fencing check failed: the caller no longer holds the lock.
var ErrFenced = errors.New("zk: fencing check failed")

// IsSessionGone reports whether err means the session is over, so the caller must stop and re-register.
func IsSessionGone(err error) bool {
	return errors.Is(err, ErrSessionExpired) || errors.Is(err, ErrClosed)
}

// Read is the outcome of one Get of GetAll.
type Read struct {
	Data []byte
	Stat Stat
	Err  error
}

// Pipeliner is implemented by a Conn whose calls may be in flight together (go-zookeeper pipelines requests
// on its one socket). GetAll then costs about one round trip instead of one per path; a Conn without it
// (the in-memory one, which the simulation orders call by call) is read one path after the other.
type Pipeliner interface {
	GetAll(paths []string) []Read
}

// GetAll reads every path and returns the reads in the order of paths.
func GetAll(c Conn, paths []string) []Read {
	if p, ok := c.(Pipeliner); ok {
		return p.GetAll(paths)
	}
	out := make([]Read, len(paths))
	for i, p := range paths {
		out[i].Data, out[i].Stat, out[i].Err = c.Get(p)
	}
	return out
}
