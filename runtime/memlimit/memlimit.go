// Package memlimit keeps a soft memory limit on a small process and raises it as the process grows (issues #18,
// #12).
//
// A pod's live heap is a few MB, and with GOGC=100 the garbage between two collections may grow as big again:
// half of a soaked pod's own memory. A soft limit (debug.SetMemoryLimit) bounds that; a fixed one would also
// bound the room left for garbage once the live heap grows, and a leader of a large cluster whose live heap
// neared the limit would collect without end (the runtime caps that at half the CPU). So after every
// collection the limit is re-decided from what the collector found live (Decide): the soft limit while it
// leaves room enough for garbage, a higher one that leaves that room when it does not.
package memlimit

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Decide is the limit to apply after a collection, from the live heap and the rest of what the limit counts
// (other: stacks, metadata, the unused part of the heap's spans: ~7 MB in a pod, most of it never touched):
// soft while it leaves room for garbage, else a limit raised just enough to leave that room.
//
// The room is what the heap may grow to past the live heap: the limit less other and the headroom the runtime
// keeps under it (headroom). It must hold an eighth of soft and a quarter of the live heap, so that the
// collector's work per byte allocated stays within four times GOGC=100's however the pod grows. An eighth
// (1.5 MiB of the default 12) is about what a plain pod has under soft anyway (1.0-1.5 MB, a median of 1.4, in
// BenchmarkIntegration_Scale's 50 pods), and what the pod's settings add is not taken from its garbage: with a
// sixteenth, the TLS state of a pod with tokens and TLS took 0.3 MB of it (a median of 1.1 MB) and it
// collected a third more often in the same phases. Before that, the rule kept soft while live + other +
// soft/16 fitted under it, headroom forgotten: such a pod could sit on its edge with no room left, and
// collected 4 to 5 times as often as a plain pod (BenchmarkIntegration_PhaseRequestCPU/pods=3 with
// GODEBUG=gctrace=1: 0.12-0.17 collections a phase against 0.03), at random from one start to the next.
func Decide(soft, live, other uint64) int64 {
	limit := max(soft, other+withHeadroom(live+max(soft/8, live/4)))
	if limit > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(limit)
}

// Headroom is what the runtime keeps free under a limit, of the part of it the heap may use: max(3 %, 1 MiB)
// (memoryLimitHeapGoalHeadroomPercent and memoryLimitMinHeapGoalHeadroom, runtime/mgcpacer.go).
func headroom(part uint64) uint64 { return max(part/100*3, 1<<20) }

// withHeadroom is the smallest part of a limit under which the runtime lets the heap reach heap.
func withHeadroom(heap uint64) uint64 {
	if part := heap + 1<<20; headroom(part) == 1<<20 {
		return part
	}
	return heap/97*100 + 100 // 3 % of it kept: heap is at least 97 %
}

// names are the runtime/metrics Keep reads after each collection.
var names = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/free:bytes",
}

// Keep applies Decide(soft, ...) after every collection until stop is called; applied, when not nil,
// is told each limit set (tests). The collector itself drives it: a cleanup on an object that the next
// collection frees re-arms itself, so an idle pod does nothing between collections.
func Keep(soft uint64, applied func(int64)) (stop func()) {
	var mu sync.Mutex // stop waits for a decision under way: none is applied after it returned
	stopped := false
	samples := make([]metrics.Sample, len(names))
	for i, n := range names {
		samples[i].Name = n
	}
	decide := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return false
		}
		metrics.Read(samples)
		v := func(i int) uint64 { return samples[i].Value.Uint64() }
		heap := v(2) + v(3) + v(4) // released, objects, free: the heap's memory but for its spans' unused part
		other := uint64(0)
		if v(1) > heap {
			other = v(1) - heap
		}
		limit := Decide(soft, v(0), other)
		debug.SetMemoryLimit(limit)
		if applied != nil {
			applied(limit)
		}
		return true
	}
	var arm func()
	arm = func() {
		type sentinel struct{ _ *int } // holds a pointer: never batched with other objects by the tiny allocator
		runtime.AddCleanup(&sentinel{}, func(struct{}) {
			if decide() {
				arm()
			}
		}, struct{}{})
	}
	arm() // the first decision at the first collection: a pod's start runs under GOGC alone
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
	}
}

// Limit is a soft limit kept as Keep keeps it, that can be lifted for a while and restored: a pod lifts it
// while its leader works (ochopod run's leaderUnlimited). A phase allocates far more than a request, and under the
// limit it collected over and over: the runtime keeps at least 1 MiB of the limit's room as headroom, so the
// room Decide leaves for garbage is smaller than it looks (with tokens and TLS, a leader of 10 pods collected
// 5-18 times during a join against 2-6 without). One pod per cluster runs under GOGC alone instead.
// Safe for concurrent use.
type Limit struct {
	soft    uint64
	applied func(int64)

	mu   sync.Mutex
	stop func() // the Keep in force; nil while lifted
}

// Hold keeps soft as Keep does until Lift; applied is Keep's.
func Hold(soft uint64, applied func(int64)) *Limit {
	return &Limit{soft: soft, applied: applied, stop: Keep(soft, applied)}
}

// Lift removes the limit at once (GOGC alone) until Restore; lifted already, it does nothing.
func (l *Limit) Lift() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stop == nil {
		return
	}
	l.stop()
	l.stop = nil
	debug.SetMemoryLimit(math.MaxInt64)
	if l.applied != nil {
		l.applied(math.MaxInt64)
	}
}

// Restore keeps the soft limit again, decided from the next collection on; kept already, it does nothing.
func (l *Limit) Restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stop == nil {
		l.stop = Keep(l.soft, l.applied)
	}
}
