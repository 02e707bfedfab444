// Package clock is the one port through which Ochopod reads time and sets timers. Actors and policies take a
// Clock, so tests can run them on the testkit's virtual clock, where time moves only when the test says.
package clock

import "time"

// Clock tells the time and runs functions later.
//
// Contract: AfterFunc runs f once, on a goroutine of the clock's choosing, no earlier than d after the call
// (on a virtual clock: when the test advances time past that point). f must not block. Stop reports whether
// it prevented f from running.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	Stop() bool
}

// Real is the wall clock.
type Real struct{}

// Now returns the current time.
func (Real) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
