package gozk

import (
	"sync"

	"github.com/ochopod/ochopod/runtime/zk"
)

// eventQueue carries session events from the library's goroutines, which must never block, to the consumer,
// which may be slow: push appends to an unbounded slice, run forwards in order. Nothing is dropped; the
// queue grows by one entry per change of state the consumer has not read yet.
type eventQueue struct {
	out  chan zk.SessionEvent
	wake chan struct{} // one pending wake-up is enough

	mu    sync.Mutex
	items []zk.SessionEvent
	final bool // the last event (StateClosed) is queued; later pushes are ignored
}

func newEventQueue() *eventQueue {
	return &eventQueue{out: make(chan zk.SessionEvent, 8), wake: make(chan struct{}, 1)}
}

func (q *eventQueue) push(ev zk.SessionEvent, final bool) {
	q.mu.Lock()
	if q.final {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, ev)
	q.final = final
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run forwards events until the final one was received, then closes out.
func (q *eventQueue) run() {
	defer close(q.out)
	for range q.wake {
		q.mu.Lock()
		items, final := q.items, q.final
		q.items = nil
		q.mu.Unlock()
		for _, ev := range items {
			q.out <- ev
		}
		if final {
			return
		}
	}
}
