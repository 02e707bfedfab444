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

func TestDecide_SoftWhileItLeavesRoomElseRaised(t *testing.T) {
	for _, tc := range []struct {
		name              string
		soft, live, other uint64
		want              int64
	}{
		// room = the limit - other - the runtime's 1 MiB headroom - live; it must hold max(soft/8, live/4)
		{"room enough under soft", 12 * mib, 3 * mib, 6 * mib, 12 * mib},
		{"exactly enough", 12 * mib, 3 * mib, 6*mib + mib/2, 12 * mib},
		{"a byte short: raised by it", 12 * mib, 3 * mib, 6*mib + mib/2 + 1, 12*mib + 1},
		{"a larger live heap: a quarter of it", 12 * mib, 8 * mib, 7 * mib, 18 * mib},
		{"a big heap: 3 % headroom", 12 * mib, 40 * mib, 7 * mib, 7*mib + 50*mib/97*100 + 100},
		{"no limit", math.MaxUint64, 0, 0, math.MaxInt64},
	} {
		if got := memlimit.Decide(tc.soft, tc.live, tc.other); got != tc.want {
			t.Errorf("%s: Decide(%d, %d, %d) = %d, want %d", tc.name, tc.soft, tc.live, tc.other, got, tc.want)
		}
	}
}

// Whatever the heap, a limit leaves the room it promises once the runtime took its headroom: with a limit kept
// while live + other + soft/16 fit under it, a pod whose live heap and the rest came to ~11 MiB of 12 had no
// room at all, and collected without end (the CPU limiter's half of the CPU).
func TestDecide_LeavesTheRoomPastTheRuntimesHeadroom(t *testing.T) {
	const soft = 12 * mib
	for live := uint64(mib); live <= 64*mib; live += mib / 8 {
		for other := uint64(0); other <= 16*mib; other += mib / 8 {
			limit := memlimit.Decide(soft, live, other)
			if limit == math.MaxInt64 {
				continue
			}
			part := uint64(limit) - other
			heap := part - max(part/100*3, mib) // what the runtime lets the heap reach (runtime/mgcpacer.go)
			if heap < live+max(soft/8, live/4) {
				t.Fatalf("live %d, other %d: limit %d lets the heap reach %d, %d past the live heap", live, other, limit, heap, heap-min(heap, live))
			}
		}
	}
}

// Keep decides after each collection, from what the runtime reports, until stopped.
func TestKeep_DecidesAfterEachCollection(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	for _, tc := range []struct {
		soft uint64
		ok   func(int64) bool
	}{
		{1 << 40, func(l int64) bool { return l == 1<<40 }},              // far above this test's heap: kept
		{64 << 10, func(l int64) bool { return l > 1<<20 && l < 1<<40 }}, // below it: raised to leave room
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
				if !tc.ok(got) || debug.SetMemoryLimit(-1) != got {
					t.Fatalf("soft %d: applied %d after a collection (in force: %d)", tc.soft, got, debug.SetMemoryLimit(-1))
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
