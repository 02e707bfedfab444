package backoff

import (
	"testing"
	"time"
)

func TestPolicy_Delay(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: time.Second}
	cases := []struct {
		attempt int
		want    time.Duration
	}{
		{-1, 0}, {0, 0}, {1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {3, 400 * time.Millisecond},
		{4, 800 * time.Millisecond}, {5, time.Second}, {60, time.Second}, {1 << 30, time.Second},
	}
	for _, c := range cases {
		if got := p.Delay(c.attempt); got != c.want {
			t.Errorf("Delay(%d) = %v, want %v", c.attempt, got, c.want)
		}
	}
}

func TestPolicy_ZeroInitialNeverWaits(t *testing.T) {
	if d := (Policy{}).Delay(5); d != 0 {
		t.Fatalf("zero policy waited %v", d)
	}
}

func TestBackoff_JitterShortensWithinTheFractionAndSpreadsSeeds(t *testing.T) {
	base := Policy{Initial: time.Second, Max: 30 * time.Second}
	for attempt := 1; attempt <= 8; attempt++ {
		full := base.Delay(attempt)
		distinct := map[time.Duration]bool{}
		for seed := uint64(1); seed <= 50; seed++ {
			p := base.WithJitter(0.5, seed)
			d := p.Delay(attempt)
			if d > full || d < full/2 {
				t.Fatalf("attempt %d seed %d: %s outside [%s, %s]", attempt, seed, d, full/2, full)
			}
			if d != p.Delay(attempt) {
				t.Fatalf("attempt %d seed %d: not the same delay twice", attempt, seed)
			}
			distinct[d] = true
		}
		if len(distinct) < 40 {
			t.Fatalf("attempt %d: 50 seeds gave only %d distinct delays: pods would retry in lockstep", attempt, len(distinct))
		}
	}
	if got := base.WithJitter(0.5, 7).Delay(0); got != 0 {
		t.Fatalf("attempt 0 waits %s", got)
	}
}
