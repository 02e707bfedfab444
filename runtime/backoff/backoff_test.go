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
