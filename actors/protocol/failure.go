// Package protocol holds the helpers of the actors' typed protocol (messages/ochopod/v1): the Failure every
// completion carries, sorted by kind so that machines branch on it and never on text, and the short names of
// the protocol's enums for logs, traces and tests.
package protocol

import (
	"errors"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Failure is err as a v1.Failure; nil for nil.
func Failure(err error) *v1.Failure {
	if err == nil {
		return nil
	}
	return &v1.Failure{Kind: KindOf(err), Message: err.Error()}
}

// KindOf sorts err. The fence is checked first: zk.Fenced wraps the check's own ErrNoNode.
func KindOf(err error) v1.ErrorKind {
	switch {
	case errors.Is(err, zk.ErrFenced):
		return v1.ErrorKind_ERROR_KIND_FENCED
	case errors.Is(err, zk.ErrNoNode):
		return v1.ErrorKind_ERROR_KIND_NO_NODE
	case zk.IsSessionGone(err), errors.Is(err, zk.ErrConnectionLost):
		return v1.ErrorKind_ERROR_KIND_SESSION_GONE
	}
	return v1.ErrorKind_ERROR_KIND_OTHER
}

// Other is a failure of kind other with this message: for failures that are no Go error (a callback's
// panic, a missing executor) and for tests.
func Other(msg string) *v1.Failure {
	return &v1.Failure{Kind: v1.ErrorKind_ERROR_KIND_OTHER, Message: msg}
}

// Err is f as an error again (nil for nil): its text is f's message, and errors.Is finds what its kind
// stands for (zk.ErrFenced, zk.ErrNoNode, zk.ErrSessionExpired), so Failure(Err(f)) has f's kind. For
// completions that cross a host as messages and are then wrapped by a machine.
func Err(f *v1.Failure) error {
	if f == nil {
		return nil
	}
	return failureError{kind: f.GetKind(), msg: f.GetMessage()}
}

type failureError struct {
	kind v1.ErrorKind
	msg  string
}

func (e failureError) Error() string { return e.msg }

func (e failureError) Is(target error) bool {
	switch e.kind {
	case v1.ErrorKind_ERROR_KIND_FENCED:
		return target == zk.ErrFenced
	case v1.ErrorKind_ERROR_KIND_NO_NODE:
		return target == zk.ErrNoNode
	case v1.ErrorKind_ERROR_KIND_SESSION_GONE:
		return target == zk.ErrSessionExpired
	}
	return false
}
