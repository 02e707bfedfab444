// Package backoff computes retry delays. It is pure: callers keep the attempt count and set their own timers
// on the clock port, so the same policy serves real runs and virtual-clock tests.
package backoff

import "time"

// Policy is an exponential backoff: Initial, then doubling up to Max, each delay shortened by up to Jitter
// (a fraction, 0 to 1) of itself. The jitter is drawn from Seed and the attempt, so a policy stays pure and
// replays exactly; pods given different seeds (their keys) spread their retries instead of reconnecting in
// lockstep after an outage.
type Policy struct {
	Initial time.Duration
	Max     time.Duration
	Jitter  float64
	Seed    uint64
}

// WithJitter returns p with jitter fraction j drawn from seed.
func (p Policy) WithJitter(j float64, seed uint64) Policy {
	p.Jitter, p.Seed = min(max(j, 0), 1), seed
	return p
}

// Default suits reconnecting to ZooKeeper: quick first retries, never more than a few seconds apart.
func Default() Policy { return Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second} }

// Delay is the wait before retry number attempt (1 for the first retry). Attempts below 1 wait nothing.
func (p Policy) Delay(attempt int) time.Duration {
	d := p.exponential(attempt)
	if p.Jitter <= 0 || d <= 0 {
		return d
	}
	return d - time.Duration(float64(d)*min(p.Jitter, 1)*unit(p.Seed, uint64(attempt)))
}

// unit is a number in [0, 1) drawn from seed and n (splitmix64's finalizer).
func unit(seed, n uint64) float64 {
	z := seed + n*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

func (p Policy) exponential(attempt int) time.Duration {
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
