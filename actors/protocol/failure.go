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
