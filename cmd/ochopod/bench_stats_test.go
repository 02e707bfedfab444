package main

import (
	"testing"
	"time"
)

// The scale bench's verdict on a mode's cost rests on ratioInterval: rounds alike give an interval around 1,
// rounds twice as long one around 2 that excludes 1, and noisy rounds a wider interval than steady ones.
func TestRatioInterval(t *testing.T) {
	ms := func(v ...float64) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x * float64(time.Millisecond))
		}
		return out
	}
	base := ms(10, 11, 9, 10.5, 9.5, 10, 10.2, 9.8, 10.1)
	if lo, hi := ratioInterval(base, base); lo > 1 || hi < 1 || hi-lo > 0.2 {
		t.Fatalf("the same rounds: [%.2f, %.2f], want a narrow interval around 1", lo, hi)
	}
	double := make([]time.Duration, len(base))
	for i, d := range base {
		double[i] = 2 * d
	}
	if lo, hi := ratioInterval(double, base); lo <= 1.5 || hi >= 2.5 {
		t.Fatalf("twice as long: [%.2f, %.2f], want an interval around 2", lo, hi)
	}
	noisy := ms(5, 15, 8, 14, 6, 12, 10, 16, 7)
	lo1, hi1 := ratioInterval(base, base)
	lo2, hi2 := ratioInterval(noisy, base)
	if hi2-lo2 <= hi1-lo1 {
		t.Fatalf("noisy rounds: [%.2f, %.2f], not wider than steady ones' [%.2f, %.2f]", lo2, hi2, lo1, hi1)
	}
	if lo, hi := ratioInterval(nil, base); lo != 0 || hi != 0 {
		t.Fatalf("no rounds: [%.2f, %.2f], want none", lo, hi)
	}
}
