package memlimit_test

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/memlimit"
)

const mib = 1 << 20

func TestDecide_SoftWhileASixteenthIsLeftForGarbage(t *testing.T) {
	for _, tc := range []struct {
		soft, live, other uint64
		want              int64
	}{
		{12 * mib, 4 * mib, 7 * mib, 12 * mib},                // 1 MiB left for garbage
		{12 * mib, 4*mib + mib/4, 7 * mib, 12 * mib},          // exactly a sixteenth left
		{12 * mib, 4*mib + mib/4 + 1, 7 * mib, math.MaxInt64}, // less
		{12 * mib, 40 * mib, 7 * mib, math.MaxInt64},          // a big leader: GOGC alone
		{math.MaxUint64, 0, 0, math.MaxInt64},
	} {
		if got := memlimit.Decide(tc.soft, tc.live, tc.other); got != tc.want {
			t.Errorf("Decide(%d, %d, %d) = %d, want %d", tc.soft, tc.live, tc.other, got, tc.want)
		}
	}
}

// Keep decides after each collection, from what the runtime reports, until stopped.
func TestKeep_DecidesAfterEachCollection(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	for _, tc := range []struct {
		soft uint64
		want int64
	}{
		{1 << 40, 1 << 40},        // far above this test's heap
		{64 << 10, math.MaxInt64}, // below it: no limit
	} {
		applied := make(chan int64, 64)
		stop := memlimit.Keep(tc.soft, func(l int64) {
			select {
			case applied <- l:
			default:
			}
		})
		select {
		case got := <-applied:
			t.Fatalf("soft %d: applied %d before any collection", tc.soft, got)
		default:
		}
		deadline := time.After(30 * time.Second)
	wait:
		for {
			runtime.GC()
			select {
			case got := <-applied:
				if got != tc.want || debug.SetMemoryLimit(-1) != tc.want {
					t.Fatalf("soft %d: applied %d after a collection, want %d", tc.soft, got, tc.want)
				}
				break wait
			case <-deadline:
				t.Fatalf("soft %d: nothing decided after collections", tc.soft)
			default:
			}
		}
		stop()
		for len(applied) > 0 { // decided before stop returned
			<-applied
		}
		debug.SetMemoryLimit(math.MaxInt64)
		runtime.GC()
		runtime.GC()
		select {
		case l := <-applied:
			t.Fatalf("soft %d: applied %d after stop", tc.soft, l)
		default:
		}
	}
}
