package protocol

import (
	"errors"
	"fmt"
	"testing"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
)

func TestKindOf_SortsTheErrorsMachinesBranchOn(t *testing.T) {
	fenced := fmt.Errorf("%w: fence /lock: %w", zk.ErrFenced, zk.ErrNoNode)
	for _, tc := range []struct {
		err  error
		want v1.ErrorKind
	}{
		{fenced, v1.ErrorKind_ERROR_KIND_FENCED},
		{fmt.Errorf("read /a: %w", zk.ErrNoNode), v1.ErrorKind_ERROR_KIND_NO_NODE},
		{zk.ErrSessionExpired, v1.ErrorKind_ERROR_KIND_SESSION_GONE},
		{zk.ErrClosed, v1.ErrorKind_ERROR_KIND_SESSION_GONE},
		{zk.ErrConnectionLost, v1.ErrorKind_ERROR_KIND_SESSION_GONE},
		{zk.ErrBadVersion, v1.ErrorKind_ERROR_KIND_OTHER},
		{errors.New("boom"), v1.ErrorKind_ERROR_KIND_OTHER},
	} {
		if got := Failure(tc.err); got.GetKind() != tc.want || got.GetMessage() != tc.err.Error() {
			t.Errorf("Failure(%v) = %v, want kind %v", tc.err, got, tc.want)
		}
	}
	if Failure(nil) != nil {
		t.Error("Failure(nil) is not nil")
	}
}

// A failure that crossed a host as a message and is wrapped again keeps its kind and its text.
func TestErr_KeepsTheKindThroughAWrap(t *testing.T) {
	for _, kind := range []v1.ErrorKind{v1.ErrorKind_ERROR_KIND_FENCED, v1.ErrorKind_ERROR_KIND_NO_NODE,
		v1.ErrorKind_ERROR_KIND_SESSION_GONE, v1.ErrorKind_ERROR_KIND_OTHER} {
		f := &v1.Failure{Kind: kind, Message: "why"}
		got := Failure(fmt.Errorf("phase: %w", Err(f)))
		if got.GetKind() != kind || got.GetMessage() != "phase: why" {
			t.Errorf("Failure(wrap(Err(%v))) = %v", f, got)
		}
	}
	if Err(nil) != nil {
		t.Error("Err(nil) is not nil")
	}
}

func TestName_IsTheValueWithoutItsPrefixInLowerCase(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{Name(v1.Timer_TIMER_GRACE), "grace"},
		{Name(v1.Callback_CALLBACK_CAN_CONFIGURE), "can_configure"},
		{Name(v1.ZkEvent_ZK_EVENT_NODE_DELETED), "node_deleted"},
		{Name(v1.ErrorKind_ERROR_KIND_SESSION_GONE), "session_gone"},
		{Name(v1.Timer(99)), "timer(99)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
