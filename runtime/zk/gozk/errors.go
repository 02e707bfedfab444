package gozk

import (
	"errors"

	gozk "github.com/go-zookeeper/zk"

	"github.com/ochopod/ochopod/runtime/zk"
)

// opError is what every call returns: the operation and path, the port's sentinel (kind) and the library's
// error (cause). errors.Is matches both, and the text keeps the library's when it says more than the
// sentinel, e.g. "get /a: zk: connection lost (zk: connection closed)".
type opError struct {
	op, path string
	kind     error // a zk.Err* sentinel, nil when none applies (an operational failure)
	cause    error // the library's error, nil when the adapter itself refused the call
}

func (e *opError) Error() string {
	s := e.op
	if e.path != "" {
		s += " " + e.path
	}
	s += ": "
	switch {
	case e.kind == nil:
		return s + e.cause.Error()
	case e.cause == nil || e.cause.Error() == e.kind.Error():
		return s + e.kind.Error()
	}
	return s + e.kind.Error() + " (" + e.cause.Error() + ")"
}

func (e *opError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// sentinel maps a go-zookeeper error to the port's sentinel, nil when none applies.
func sentinel(err error) error {
	switch {
	case errors.Is(err, gozk.ErrNoNode):
		return zk.ErrNoNode
	case errors.Is(err, gozk.ErrNodeExists):
		return zk.ErrNodeExists
	case errors.Is(err, gozk.ErrBadVersion):
		return zk.ErrBadVersion
	case errors.Is(err, gozk.ErrNotEmpty):
		return zk.ErrNotEmpty
	case errors.Is(err, gozk.ErrNoChildrenForEphemerals):
		return zk.ErrNoChildrenForEphemerals
	case errors.Is(err, gozk.ErrSessionExpired):
		return zk.ErrSessionExpired
	case errors.Is(err, gozk.ErrConnectionClosed), errors.Is(err, gozk.ErrNoServer):
		return zk.ErrConnectionLost
	case errors.Is(err, gozk.ErrClosing):
		return zk.ErrClosed
	case errors.Is(err, gozk.ErrInvalidPath), errors.Is(err, gozk.ErrBadArguments),
		errors.Is(err, gozk.ErrInvalidFlags):
		return zk.ErrBadArguments
	}
	return nil
}

// mapErr wraps a library error. Once the session is over, failures that are not the server's answer about
// a node (the connection went away, the library is closing) report why the session is over instead:
// ErrSessionExpired or ErrClosed.
func (c *conn) mapErr(op, path string, err error) error {
	kind := sentinel(err)
	switch kind {
	case nil, zk.ErrConnectionLost, zk.ErrClosed, zk.ErrSessionExpired:
		if t := c.terminal(); t != nil {
			kind = t
		}
	}
	return &opError{op: op, path: path, kind: kind, cause: err}
}
