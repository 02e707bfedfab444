package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/memlimit"
)

// tuneRuntime fits the Go runtime to an entrypoint that shares its container with the workload it supervises:
// GOMAXPROCS=1 unless the operator set GOMAXPROCS (getenv reads the environment). A pod does one request or
// one ZooKeeper event at a time, and a hand-off between goroutines on two threads costs futex calls and
// context switches, which are dear in a VM: on a 2-core VM one thread spends a third to a half less CPU on a
// control request (GOMAXPROCS=1 against 2 in the environment of BenchmarkIntegration_PhaseRequestCPU: 0.11-0.15
// ms against 0.26-0.34 with 10 pods) and leaves the other cores to the workload. A leader's phase is I/O-bound.
//
// GOGC stays Go's once the pod runs: a larger target spreads each request's garbage over memory the process
// has not touched yet, and a page fault costs ~15-20 µs in a VM (the bench's faults/<task> columns): with
// GOGC=300 a request took three times the faults and ~30% more CPU. Only the first collection waits for more
// (quietStart).
//
// The garbage is bounded instead by a soft memory limit (--memory-limit, see package memlimit) while the pod
// is small, unless the operator set GOMEMLIMIT: issue #18's soak pod keeps ~2 MB less garbage. The limit is
// returned (nil without one) to be lifted while the pod's leader works (leaderUnlimited).
//
// Returned too: settle, which ends the quiet start at once (nil when the operator set GOGC), for
// settleWhenConfigured.
func tuneRuntime(getenv func(string) string, memoryLimit uint64) (lim *memlimit.Limit, settle func()) {
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	if getenv("GOGC") == "" {
		settle = quietStart(startGOGC)
	}
	if getenv("GOMEMLIMIT") == "" && memoryLimit > 0 {
		lim = memlimit.Hold(memoryLimit, nil) // for the process's life
	}
	return lim, settle
}

// afterFunc runs f once after d, in a goroutine of its own (time.AfterFunc; nothing to stop: f is one
// collection, and the process may end first).
func afterFunc(d time.Duration, f func()) { time.AfterFunc(d, f) }

// settleAfter is how long after its first configuration a pod ends its quiet start: past the end of the
// phase that configured it (its ok, the leader's write), before the next phase of most clusters.
const settleAfter = 500 * time.Millisecond

// settleWhenConfigured is observe, calling settle (in a timer's goroutine: after) settleAfter once the pod
// was first configured. The collections that end the quiet start (quietStart) cost a pod 1-2 ms of CPU on its
// one thread; left to the heap's growth, they came in a phase: a secured pod's
// start allocates more (certificates, the TLS prime), so its first collection came during the first phases
// it led, and a 3-pod join's leader spent ~4 ms more (BenchmarkIntegration_Scale, secured against plain:
// leader CPU 8-10 against 4-6 ms, 5-6 against 5 with this). A pod with TLS on its control port only (runPod):
// a collection leaves the collector's own memory behind, and a plain pod idles with ~0.8 MB less without
// it. Without settle, observe itself.
func settleWhenConfigured(settle func(), after func(time.Duration, func()), observe func(any)) func(any) {
	if settle == nil {
		return observe
	}
	var once sync.Once
	return func(evt any) {
		if st, ok := evt.(*v1.LifecycleStatus); ok && st.GetConfigured() {
			once.Do(func() { after(settleAfter, settle) })
		}
		observe(evt)
	}
}

// leaderUnlimited is observe, lifting lim while the pod's leader works (from winning the lock until its model
// has read the cluster, then while a change is pending or a phase runs) and restoring it once the model is idle
// or paused, or the pod follows (see memlimit.Limit): a phase allocates far more than a request to a pod, and
// under the limit a leader's phases collected without end. An idle leader is a pod like the others: a one-pod
// cluster's pod soaked by control requests stays under the limit. Without a limit, observe itself.
func leaderUnlimited(lim *memlimit.Limit, observe func(any)) func(any) {
	if lim == nil {
		return observe
	}
	var mu sync.Mutex
	leading := false
	return func(evt any) {
		mu.Lock()
		switch e := evt.(type) {
		case *v1.SessionStatus:
			leading = e.GetRole() == v1.Role_ROLE_LEADER
			if leading {
				lim.Lift() // the takeover's reads, warm-up and first phase come next
			} else {
				lim.Restore()
			}
		case *v1.ModelStatus:
			if leading && leaderAtWork(e) {
				lim.Lift()
			} else if leading {
				lim.Restore()
			} // a model's status after the pod stopped leading changes nothing
		}
		mu.Unlock()
		observe(evt)
	}
}

// leaderAtWork tells whether a leader's model is reading, waiting out a change or configuring.
func leaderAtWork(st *v1.ModelStatus) bool {
	switch st.GetState() {
	case v1.ModelState_MODEL_STATE_PENDING, v1.ModelState_MODEL_STATE_CONFIGURING:
		return true
	case v1.ModelState_MODEL_STATE_PAUSED:
		return false
	}
	return st.GetHash() == "" && st.GetPods() == 0 // idle before its first read
}

// startGOGC is GOGC until the first collection: with Go's 4 MB first goal, it comes at 8 MB of heap.
const startGOGC = 200

// quietStart sets GOGC to gogc until the process's first collection, then back. A pod's start allocates
// ~5.4 MB (3.5 MB of it go-zookeeper's buffers, barely touched), and under Go's first goal (4 MB) two
// collections ran in it: they cost CPU, and each left memory that an idle pod keeps (the collector's own:
// span lists and mark bits of every size class the start churned through), which a collection of the idle
// heap does not. BenchmarkIntegration_LightPod, 15 starts beside the same build without it (GOGC 400 then):
// idle RSS 15.4 -> 14.7 MB (RssAnon 4.0 -> 3.2), start-up CPU 17.6 -> 16.7 ms; the same after 130 s of idle
// (the runtime's periodic collection done). The first collection also returns the free memory to the OS
// (debug.FreeOSMemory: one more collection, once): the soft memory limit counts that memory, and while the
// scavenger returned it the limit had the pod collect more often (GOGC 400 until then: 557 collections over
// 60 000 control requests against 322 without; 200 and the return: 308).
//
// The returned settle ends the quiet start now, before it returns (GOGC back, then the same return), unless
// it is over already.
func quietStart(gogc int) (settle func()) {
	prev := debug.SetGCPercent(gogc)
	var over atomic.Bool
	end := func() {
		if over.CompareAndSwap(false, true) {
			debug.SetGCPercent(prev)
			debug.FreeOSMemory()
		}
	}
	type sentinel struct{ _ *int } // holds a pointer: never batched with other objects by the tiny allocator
	runtime.AddCleanup(&sentinel{}, func(int) { end() }, 0)
	return end
}

// parseSize reads a --memory-limit: bytes with an optional B, KiB, MiB or GiB suffix (GOMEMLIMIT's syntax),
// or off (0).
func parseSize(s string) (uint64, error) {
	if s == "off" {
		return 0, nil
	}
	unit := uint64(1)
	num := s
	for _, u := range []struct {
		suffix string
		bytes  uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			num, unit = strings.TrimSuffix(s, u.suffix), u.bytes
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n > (1<<63-1)/unit {
		return 0, fmt.Errorf("%q: want bytes with an optional B, KiB, MiB or GiB suffix, or off", s)
	}
	return n * unit, nil
}
