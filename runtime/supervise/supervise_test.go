package supervise

import (
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/backoff"
)

func TestPolicy_DecideBacksOffWhileCrashing(t *testing.T) {
	p := Policy{Backoff: backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second}, Window: time.Minute}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var h []time.Time
	want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	for i, w := range want {
		var d time.Duration
		d, h = p.Decide(h, t0.Add(time.Duration(i)*time.Second))
		if d != w {
			t.Fatalf("crash %d: delay %v, want %v", i+1, d, w)
		}
	}
}

func TestPolicy_DecideForgetsOldCrashes(t *testing.T) {
	p := Policy{Backoff: backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second}, Window: time.Minute}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, h := p.Decide(nil, t0)
	_, h = p.Decide(h, t0.Add(time.Second))
	d, h := p.Decide(h, t0.Add(2*time.Minute))
	if d != 0 || len(h) != 1 {
		t.Fatalf("after a quiet window: delay %v, history %d; want 0 and 1", d, len(h))
	}
}
