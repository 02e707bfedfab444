package vclock

import (
	"container/heap"
	"sync"
	"time"

	"github.com/ochopod/ochopod/runtime/clock"
)

// Epoch is where a clock made by New starts.
func Epoch() time.Time { return time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC) }

// Clock is a virtual clock. The zero value is not usable: build one with New or NewAt.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers timerHeap
}

var _ clock.Clock = (*Clock)(nil)

// New returns a clock standing at Epoch.
func New() *Clock { return NewAt(Epoch()) }

// NewAt returns a clock standing at start.
func NewAt(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the virtual time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc registers f to run when the clock reaches Now()+d. A nil f is allowed and does nothing when due.
func (c *Clock) AfterFunc(d time.Duration, f func()) clock.Timer {
	if d < 0 {
		d = 0
	}
	if f == nil {
		f = func() {}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &timer{c: c, due: c.now.Add(d), seq: c.seq, f: f, index: -1}
	heap.Push(&c.timers, t)
	return t
}

// Advance moves the clock forward by d (a negative d counts as 0), firing every timer due on the way, and
// returns how many callbacks it ran.
func (c *Clock) Advance(d time.Duration) int {
	if d < 0 {
		d = 0
	}
	return c.AdvanceTo(c.Now().Add(d))
}

// AdvanceTo moves the clock to t, firing every timer due at or before t, and returns how many callbacks it ran.
// A t in the past leaves the clock where it is but still fires the timers already due.
func (c *Clock) AdvanceTo(t time.Time) int {
	if now := c.Now(); t.Before(now) {
		t = now
	}
	n := 0
	for {
		f, ok := c.popDue(t)
		if !ok {
			break
		}
		f()
		n++
	}
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t
	}
	c.mu.Unlock()
	return n
}

// FireNext moves the clock to the earliest pending timer's due time and runs that one callback. It reports
// false, leaving the clock alone, when no timer is pending.
func (c *Clock) FireNext() bool {
	c.mu.Lock()
	if len(c.timers) == 0 {
		c.mu.Unlock()
		return false
	}
	t := heap.Pop(&c.timers).(*timer)
	if t.due.After(c.now) {
		c.now = t.due
	}
	c.mu.Unlock()
	t.f()
	return true
}

// Pending is the number of timers registered and neither fired nor stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// NextDue is the due time of the earliest pending timer; ok is false when none is pending.
func (c *Clock) NextDue() (due time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	return c.timers[0].due, true
}

// popDue removes the earliest timer due at or before limit, sets the clock to its due time and returns its
// callback, to be run by the caller without the lock.
func (c *Clock) popDue(limit time.Time) (func(), bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 || c.timers[0].due.After(limit) {
		return nil, false
	}
	t := heap.Pop(&c.timers).(*timer)
	if t.due.After(c.now) {
		c.now = t.due
	}
	return t.f, true
}
