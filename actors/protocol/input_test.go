package protocol

import (
	"testing"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

func TestWrap_PutsAMessageInTheFieldOfItsType(t *testing.T) {
	timer := &v1.TimerFired{Timer: v1.Timer_TIMER_CONNECT, Epoch: 3}
	in, ok := Wrap[*v1.SessionInput](timer)
	if !ok || in.GetTimer() != timer {
		t.Fatalf("Wrap(timer) = %v, %v", in, ok)
	}
	if Unwrap(in) != timer {
		t.Fatalf("Unwrap(%v) = %v", in, Unwrap(in))
	}
	if in, ok := Wrap[*v1.SessionInput](&v1.WatchSet{}); ok || in != nil {
		t.Fatalf("a session took a WatchSet: %v", in)
	}
	if _, ok := Wrap[*v1.SessionInput](nil); ok {
		t.Fatal("a session took nil")
	}
	if Unwrap(&v1.SessionInput{}) != nil {
		t.Fatal("an empty input holds a message")
	}
}
