package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/memlimit"
)

func TestTuneRuntime_OneThreadUnlessTheOperatorChose(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(2)
	tuneRuntime(func(name string) string {
		if name == "GOMAXPROCS" {
			return "2"
		}
		return ""
	}, 0)
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("GOMAXPROCS set by the operator: got %d, want it left at 2", got)
	}
	tuneRuntime(func(string) string { return "" }, 0)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS unset: got %d, want 1", got)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{"off": 0, "0": 0, "12345": 12345, "512B": 512, "64KiB": 64 << 10, "10MiB": 10 << 20, "2GiB": 2 << 30} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10MB", "-1", "1.5MiB", "MiB", "99999999999GiB", "on"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestTuneRuntime_MemoryLimitUnlessGOMEMLIMIT(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	debug.SetMemoryLimit(math.MaxInt64)
	const soft = 1 << 40 // far above this test's heap: kept, and harmless to the tests that follow
	tuneRuntime(func(name string) string {
		if name == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	}, soft)
	runtime.GC()
	runtime.GC()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("GOMEMLIMIT set by the operator: limit %d, want it left alone", got)
	}
	lim, _ := tuneRuntime(func(string) string { return "" }, soft)
	if lim == nil {
		t.Fatal("GOMEMLIMIT unset: no limit kept")
	}
	// Else it outlives the test (go test -count=2 failed on it above).
	defer lim.Lift()
	for deadline := time.Now().Add(30 * time.Second); debug.SetMemoryLimit(-1) != soft; runtime.GC() { // set after a collection
		if time.Now().After(deadline) {
			t.Fatalf("GOMEMLIMIT unset: limit %d after collections, want %d", debug.SetMemoryLimit(-1), soft)
		}
	}
}

// gcPercent reads GOGC as the runtime has it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// quietStart's GOGC holds until the first collection, then the previous one is back; an operator's GOGC is
// left alone.
func TestQuietStart_GOGCBackAfterTheFirstCollection(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tuneRuntime(func(name string) string {
		if name == "GOGC" {
			return "100"
		}
		return ""
	}, 0)
	if got := gcPercent(); got != 100 {
		t.Fatalf("GOGC set by the operator: got %d, want it left at 100", got)
	}
	tuneRuntime(func(string) string { return "" }, 0)
	if got := gcPercent(); got != startGOGC {
		t.Fatalf("at the start: GOGC %d, want %d", got, startGOGC)
	}
	for deadline := time.Now().Add(30 * time.Second); gcPercent() != 100; runtime.GC() { // reset by a cleanup, after a collection
		if time.Now().After(deadline) {
			t.Fatalf("after collections: GOGC %d, want 100 back", gcPercent())
		}
		runtime.Gosched()
	}
}

// settle ends the quiet start before it returns (GOGC back), and is a no-op once it ended: the
// pod's first configuration asks for it once, settleAfter later, and only then; every event still reaches the
// observer.
func TestSettle_EndsTheQuietStartOnceAfterTheFirstConfiguration(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	_, settle := tuneRuntime(func(string) string { return "" }, 0)
	if settle == nil || gcPercent() != startGOGC {
		t.Fatalf("quiet start: settle %v, GOGC %d", settle != nil, gcPercent())
	}
	var delays []time.Duration
	var pending []func()
	seen := 0
	observe := settleWhenConfigured(settle, func(d time.Duration, f func()) { delays = append(delays, d); pending = append(pending, f) },
		func(any) { seen++ })
	observe(&v1.LifecycleStatus{Process: v1.ProcessState_PROCESS_STATE_RUNNING})
	observe(&v1.SessionStatus{})
	if len(pending) != 0 {
		t.Fatalf("settled before the pod was configured: %v", delays)
	}
	for range 3 {
		observe(&v1.LifecycleStatus{Configured: true})
	}
	if len(pending) != 1 || delays[0] != settleAfter || seen != 5 {
		t.Fatalf("after three configured statuses: %d settles at %v, %d events observed (want 1 at %s, 5)", len(pending), delays, seen, settleAfter)
	}
	pending[0]()
	if gcPercent() != 100 { // before settle returns: a large body's request runs under it at once
		t.Fatalf("after settle: GOGC %d, want 100 back", gcPercent())
	}
	var before, after debug.GCStats
	debug.ReadGCStats(&before)
	settle()
	debug.ReadGCStats(&after)
	if after.NumGC != before.NumGC {
		t.Fatal("settle collected again after the quiet start was over")
	}
	if _, settle := tuneRuntime(func(name string) string {
		if name == "GOGC" {
			return "100"
		}
		return ""
	}, 0); settle != nil {
		t.Fatal("a settle with the operator's GOGC")
	}
}

// A pod's soft memory limit is lifted while its leader works (won the lock, a change pending, a phase) and
// restored once its model is idle, or it follows (memlimit.Limit): a leader's phases ran under it with
// collections one after the other, and an idle leader is soaked by requests as any pod. Every event still
// reaches the observer.
func TestLeaderUnlimited_LiftsTheLimitWhileTheLeaderWorks(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	const soft = 1 << 40 // far above this test's heap
	applied := make(chan int64, 64)
	lim := memlimit.Hold(soft, func(l int64) {
		select {
		case applied <- l:
		default:
		}
	})
	defer lim.Lift()
	var seen int
	observe := leaderUnlimited(lim, func(any) { seen++ })
	drain := func() {
		for len(applied) > 0 { // decisions of collections before the change
			<-applied
		}
	}
	kept := func(what string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			runtime.GC() // the limit is decided after a collection
			select {
			case got := <-applied:
				if got != soft {
					t.Fatalf("%s: limit %d, want %d", what, got, soft)
				}
				drain()
				return
			case <-deadline:
				t.Fatalf("%s: no limit decided", what)
			default:
			}
		}
	}
	lifted := func(what string, now bool) { // now: lifted by this event, else lifted already
		t.Helper()
		var last int64
		for len(applied) > 0 {
			last = <-applied
		}
		if now && last != math.MaxInt64 || !now && last != 0 {
			t.Fatalf("%s: limit %d, want none (lifted now: %v)", what, last, now)
		}
		runtime.GC()
		runtime.GC()
		if len(applied) != 0 {
			t.Fatalf("%s: the limit was decided again: %d", what, <-applied)
		}
	}
	kept("at start")
	observe(&v1.SessionStatus{Connected: true, Role: v1.Role_ROLE_LEADER})
	lifted("won the lock", true)
	observe(&v1.ModelStatus{State: v1.ModelState_MODEL_STATE_IDLE}) // before its first read
	lifted("the model not read yet", false)
	observe(&v1.ModelStatus{State: v1.ModelState_MODEL_STATE_CONFIGURING, Pods: 3})
	lifted("configuring", false)
	observe(&v1.ModelStatus{State: v1.ModelState_MODEL_STATE_IDLE, Hash: "h", Pods: 3})
	kept("an idle leader")
	observe(&v1.ModelStatus{State: v1.ModelState_MODEL_STATE_PENDING, Hash: "h", Pods: 4})
	lifted("a change pending", true)
	observe(&v1.SessionStatus{Connected: true, Role: v1.Role_ROLE_FOLLOWER})
	kept("following again")
	observe(&v1.ModelStatus{State: v1.ModelState_MODEL_STATE_CONFIGURING, Pods: 4}) // the stopped model's last word
	runtime.GC()
	runtime.GC()
	for len(applied) > 0 {
		if got := <-applied; got != soft {
			t.Fatalf("a model's status after following: limit %d, want %d", got, soft)
		}
	}
	if seen != 7 {
		t.Fatalf("the observer saw %d events, want 7", seen)
	}
	if got := leaderUnlimited(nil, func(any) { seen++ }); got == nil {
		t.Fatal("without a limit: no observer")
	}
}
