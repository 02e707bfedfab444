// Package backoff computes retry delays. It is pure: callers keep the attempt count and set their own timers
// on the clock port, so the same policy serves real runs and virtual-clock tests.
package backoff

import "time"

// Policy is an exponential backoff: Initial, then doubling up to Max.
type Policy struct {
	Initial time.Duration
	Max     time.Duration
}

// Default suits reconnecting to ZooKeeper: quick first retries, never more than a few seconds apart.
func Default() Policy { return Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second} }

// Delay is the wait before retry number attempt (1 for the first retry). Attempts below 1 wait nothing.
func (p Policy) Delay(attempt int) time.Duration {
	if attempt < 1 || p.Initial <= 0 {
		return 0
	}
	d := p.Initial
	for i := 1; i < attempt && i < 62; i++ { // 62 doublings overflow any duration: stop there
		if d > (1<<62)/2 {
			break
		}
		d *= 2
		if p.Max > 0 && d >= p.Max {
			return p.Max
		}
	}
	if p.Max > 0 && d > p.Max {
		return p.Max
	}
	return d
}
