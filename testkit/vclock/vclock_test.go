package vclock_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ochopod/ochopod/testkit/vclock"
)

// recorder collects what fired, and when on the virtual clock.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) add(c *vclock.Clock, name string) func() {
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, fmt.Sprintf("%s@%s", name, c.Now().Sub(vclock.Epoch())))
	}
}

func (r *recorder) fired() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func TestVclock_FiringOrder(t *testing.T) {
	type timer struct {
		name string
		d    time.Duration
	}
	tests := []struct {
		name    string
		timers  []timer
		advance []time.Duration
		want    []string
		pending int
	}{
		{
			name:    "nothing fires before due",
			timers:  []timer{{"a", 5 * time.Second}},
			advance: []time.Duration{4 * time.Second},
			want:    nil,
			pending: 1,
		},
		{
			name:    "fires at exactly the due time",
			timers:  []timer{{"a", 5 * time.Second}},
			advance: []time.Duration{5 * time.Second},
			want:    []string{"a@5s"},
		},
		{
			name:    "due order, not registration order",
			timers:  []timer{{"late", 3 * time.Second}, {"early", time.Second}, {"mid", 2 * time.Second}},
			advance: []time.Duration{10 * time.Second},
			want:    []string{"early@1s", "mid@2s", "late@3s"},
		},
		{
			name:    "ties broken by registration order",
			timers:  []timer{{"first", time.Second}, {"second", time.Second}, {"third", time.Second}},
			advance: []time.Duration{time.Second},
			want:    []string{"first@1s", "second@1s", "third@1s"},
		},
		{
			name:    "zero and negative delays wait for the next advance",
			timers:  []timer{{"zero", 0}, {"negative", -time.Second}},
			advance: []time.Duration{0},
			want:    []string{"zero@0s", "negative@0s"},
		},
		{
			name:    "several advances",
			timers:  []timer{{"a", time.Second}, {"b", 3 * time.Second}},
			advance: []time.Duration{2 * time.Second, 2 * time.Second},
			want:    []string{"a@1s", "b@3s"},
		},
		{
			name:    "negative advance is a no-op",
			timers:  []timer{{"a", time.Second}},
			advance: []time.Duration{-time.Hour},
			want:    nil,
			pending: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := vclock.New()
			var r recorder
			for _, tm := range tt.timers {
				c.AfterFunc(tm.d, r.add(c, tm.name))
			}
			for _, d := range tt.advance {
				c.Advance(d)
			}
			if got := r.fired(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fired %v, want %v", got, tt.want)
			}
			if got := c.Pending(); got != tt.pending {
				t.Errorf("Pending() = %d, want %d", got, tt.pending)
			}
		})
	}
}

func TestVclock_StartsAtEpochOrGivenTime(t *testing.T) {
	at := time.Date(2030, time.June, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		c    *vclock.Clock
		want time.Time
	}{
		{"New", vclock.New(), time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)},
		{"NewAt", vclock.NewAt(at), at},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Now(); !got.Equal(tt.want) {
				t.Errorf("Now() = %v, want %v", got, tt.want)
			}
			tt.c.Advance(90 * time.Second)
			if got := tt.c.Now(); !got.Equal(tt.want.Add(90 * time.Second)) {
				t.Errorf("after Advance(90s) Now() = %v, want %v", got, tt.want.Add(90*time.Second))
			}
		})
	}
}

func TestVclock_CallbackTimersFireInSameAdvance(t *testing.T) {
	c := vclock.New()
	var r recorder
	c.AfterFunc(time.Second, func() {
		r.add(c, "outer")()
		c.AfterFunc(time.Second, r.add(c, "inner"))      // due at 2s: inside the window
		c.AfterFunc(10*time.Second, r.add(c, "outside")) // due at 11s: outside
	})
	if n := c.Advance(5 * time.Second); n != 2 {
		t.Errorf("Advance ran %d callbacks, want 2", n)
	}
	want := []string{"outer@1s", "inner@2s"}
	if got := r.fired(); !reflect.DeepEqual(got, want) {
		t.Errorf("fired %v, want %v", got, want)
	}
	if got := c.Now().Sub(vclock.Epoch()); got != 5*time.Second {
		t.Errorf("clock at %v, want 5s", got)
	}
	if due, ok := c.NextDue(); !ok || due.Sub(vclock.Epoch()) != 11*time.Second {
		t.Errorf("NextDue() = %v, %v; want 11s, true", due.Sub(vclock.Epoch()), ok)
	}
}

func TestVclock_Stop(t *testing.T) {
	tests := []struct {
		name     string
		advance  time.Duration // before Stop
		wantStop bool
		wantRun  bool
	}{
		{"stop before due prevents the run", 0, true, false},
		{"stop after firing reports false", 2 * time.Second, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := vclock.New()
			ran := false
			tm := c.AfterFunc(time.Second, func() { ran = true })
			c.Advance(tt.advance)
			if got := tm.Stop(); got != tt.wantStop {
				t.Errorf("Stop() = %v, want %v", got, tt.wantStop)
			}
			if got := tm.Stop(); got {
				t.Errorf("second Stop() = true, want false")
			}
			c.Advance(time.Hour)
			if ran != tt.wantRun {
				t.Errorf("ran = %v, want %v", ran, tt.wantRun)
			}
			if c.Pending() != 0 {
				t.Errorf("Pending() = %d, want 0", c.Pending())
			}
		})
	}
}

func TestVclock_StopFromCallback(t *testing.T) {
	c := vclock.New()
	ranB := false
	var b interface{ Stop() bool }
	c.AfterFunc(time.Second, func() {
		if !b.Stop() {
			t.Errorf("Stop of a pending timer from a callback = false")
		}
	})
	b = c.AfterFunc(2*time.Second, func() { ranB = true })
	c.Advance(time.Minute)
	if ranB {
		t.Errorf("stopped timer ran")
	}
}

func TestVclock_FireNext(t *testing.T) {
	c := vclock.New()
	var r recorder
	if c.FireNext() {
		t.Fatalf("FireNext() with no timer = true")
	}
	if _, ok := c.NextDue(); ok {
		t.Fatalf("NextDue() with no timer: ok = true")
	}
	c.AfterFunc(3*time.Second, r.add(c, "b"))
	c.AfterFunc(time.Second, r.add(c, "a"))
	steps := []struct {
		wantOK    bool
		wantFired []string
		wantNow   time.Duration
	}{
		{true, []string{"a@1s"}, time.Second},
		{true, []string{"a@1s", "b@3s"}, 3 * time.Second},
		{false, []string{"a@1s", "b@3s"}, 3 * time.Second},
	}
	for i, s := range steps {
		if got := c.FireNext(); got != s.wantOK {
			t.Errorf("step %d: FireNext() = %v, want %v", i, got, s.wantOK)
		}
		if got := r.fired(); !reflect.DeepEqual(got, s.wantFired) {
			t.Errorf("step %d: fired %v, want %v", i, got, s.wantFired)
		}
		if got := c.Now().Sub(vclock.Epoch()); got != s.wantNow {
			t.Errorf("step %d: clock at %v, want %v", i, got, s.wantNow)
		}
	}
}

func TestVclock_AdvanceToThePastKeepsTime(t *testing.T) {
	c := vclock.New()
	c.Advance(time.Minute)
	ran := false
	c.AfterFunc(0, func() { ran = true })
	if n := c.AdvanceTo(vclock.Epoch()); n != 1 || !ran {
		t.Errorf("AdvanceTo(past) ran %d callbacks (ran=%v), want 1", n, ran)
	}
	if got := c.Now().Sub(vclock.Epoch()); got != time.Minute {
		t.Errorf("clock went to %v, want 1m", got)
	}
}

func TestVclock_ConcurrentUse(t *testing.T) {
	c := vclock.New()
	var mu sync.Mutex
	count := 0
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				tm := c.AfterFunc(time.Duration(i)*time.Millisecond, func() {
					mu.Lock()
					count++
					mu.Unlock()
				})
				if i%10 == 0 {
					tm.Stop()
				}
				c.Advance(time.Millisecond)
				_ = c.Now()
				_ = c.Pending()
			}
		}()
	}
	wg.Wait()
	c.Advance(time.Hour)
	if c.Pending() != 0 {
		t.Errorf("Pending() = %d after advancing past every timer", c.Pending())
	}
	mu.Lock()
	defer mu.Unlock()
	// 400 registered, 40 stopped at once (i%10 == 0 and Stop came before any advance could fire them... or not:
	// a concurrent Advance may have fired some first). At most 400, at least 360 ran.
	if count < 360 || count > 400 {
		t.Errorf("%d callbacks ran, want between 360 and 400", count)
	}
}
