package host

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

// stepper is a Task as a scheduler that must not block runs it: Wait tries recv until it takes something.
type stepper struct{ tries int }

func (s *stepper) Tell(proto.Message) {}
func (s *stepper) Wait(recv func(block bool) bool) {
	for !recv(false) {
		s.tries++
		if s.tries > 3 {
			panic("never ready")
		}
	}
}

// blocker is a Task as a goroutine host runs it.
type blocker struct{}

func (blocker) Tell(proto.Message)              {}
func (blocker) Wait(recv func(block bool) bool) { recv(true) }

func TestRecv_TakesAValueOrSeesTheChannelClosed(t *testing.T) {
	for name, task := range map[string]Task{"scheduler": &stepper{}, "goroutine": blocker{}} {
		ch := make(chan int, 2)
		ch <- 7
		close(ch)
		if v, ok := Recv(task, ch); v != 7 || !ok {
			t.Errorf("%s: Recv = %d %v, want 7 true", name, v, ok)
		}
		if v, ok := Recv(task, ch); v != 0 || ok {
			t.Errorf("%s: Recv on a closed channel = %d %v, want 0 false", name, v, ok)
		}
	}
}

func TestRecv_AScheduledTaskWaitsWithoutBlocking(t *testing.T) {
	s, ch := &stepper{}, make(chan int, 1)
	ch <- 1 // ready on the first try
	if v, _ := Recv(s, ch); v != 1 || s.tries != 0 {
		t.Fatalf("Recv = %d after %d tries", v, s.tries)
	}
	defer func() {
		if recover() == nil || s.tries != 4 {
			t.Fatalf("an empty channel was not retried without blocking (%d tries)", s.tries)
		}
	}()
	Recv(s, make(chan int))
}
