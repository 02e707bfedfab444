package probe

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ochopod/ochopod/testkit/vclock"
)

// Idler is a source of work that a quiescence check waits for. InFlight returns how much is in flight now and
// a channel closed at the next change, so a waiter sleeps until something happens instead of polling.
// *Probe and *fabric.Fabric implement it; wrap anything else (a counter of goroutines, a zkmem OpHook) the
// same way.
type Idler interface {
	InFlight() (n int, changed <-chan struct{})
}

// WaitIdle waits until every idler reports nothing in flight at once, and fails the test after timeout of
// wall-clock time, describing what was still in flight. Call it from the test's goroutine.
func WaitIdle(t testing.TB, timeout time.Duration, idlers ...Idler) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	if !waitIdle(deadline.C, idlers) {
		t.Fatalf("probe: not idle within %v: %s", timeout, describe(idlers))
	}
}

// Quiesce waits until the system is settled at the current virtual instant: nothing in flight in any idler,
// and no timer of clk due (due at or before clk.Now()). A due timer is fired (clk.Advance(0)) and the wait
// starts over, since its callback usually sends something. clk may be nil (then it is WaitIdle). It does not
// move virtual time forward: see RunUntil. It fails the test after DefaultTimeout of wall-clock time.
//
// What "nothing in flight" can see is limited; see the package doc.
func Quiesce(t testing.TB, clk *vclock.Clock, idlers ...Idler) {
	t.Helper()
	deadline := time.NewTimer(DefaultTimeout)
	defer deadline.Stop()
	if !quiesce(deadline.C, clk, idlers) {
		t.Fatalf("probe: not quiescent within %v: %s", DefaultTimeout, describe(idlers))
	}
}

// MaxSteps bounds how many timers RunUntil fires before it gives up: periodic timers never run out.
const MaxSteps = 10_000

// RunUntil drives virtual time the way a simulation stabilizes: Quiesce, then if done() is false fire the
// next timer (clk.FireNext, moving the clock to its due time) and start over. It returns once done() holds
// after a Quiesce, and fails the test when no timer is left, after MaxSteps timers, or after DefaultTimeout
// of wall-clock time in one Quiesce. done runs on the test's goroutine between steps.
func RunUntil(t testing.TB, clk *vclock.Clock, done func() bool, idlers ...Idler) {
	t.Helper()
	for step := 0; ; step++ {
		Quiesce(t, clk, idlers...)
		if done() {
			return
		}
		if step == MaxSteps {
			t.Fatalf("probe: not done after %d timers (virtual time %v)", MaxSteps, clk.Now())
		}
		if !clk.FireNext() {
			t.Fatalf("probe: not done, and no timer is left (virtual time %v): %s", clk.Now(), describe(idlers))
		}
	}
}

func quiesce(deadline <-chan time.Time, clk *vclock.Clock, idlers []Idler) bool {
	for {
		if !waitIdle(deadline, idlers) {
			return false
		}
		if clk != nil {
			if due, ok := clk.NextDue(); ok && !due.After(clk.Now()) {
				clk.Advance(0)
				continue
			}
		}
		// The two checks are not atomic: look once more, so that work started by whatever ran between them
		// is waited for too.
		if idle, _ := snapshot(idlers); idle {
			return true
		}
	}
}

// waitIdle blocks until every idler reports 0 in the same pass; false when deadline fired first.
func waitIdle(deadline <-chan time.Time, idlers []Idler) bool {
	for {
		idle, changed := snapshot(idlers)
		if idle {
			return true
		}
		cases := make([]reflect.SelectCase, 0, len(changed)+1)
		for _, ch := range changed {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline)})
		if i, _, _ := reflect.Select(cases); i == len(cases)-1 {
			return false
		}
	}
}

// snapshot asks every idler; when some are busy it returns their change channels.
func snapshot(idlers []Idler) (bool, []<-chan struct{}) {
	var busy []<-chan struct{}
	for _, i := range idlers {
		if n, ch := i.InFlight(); n > 0 {
			busy = append(busy, ch)
		}
	}
	return len(busy) == 0, busy
}

func describe(idlers []Idler) string {
	parts := make([]string, len(idlers))
	for i, id := range idlers {
		n, _ := id.InFlight()
		parts[i] = fmt.Sprintf("idler %d (%T): %d in flight", i, id, n)
		if s, ok := id.(fmt.Stringer); ok {
			parts[i] += "; " + s.String()
		}
	}
	return strings.Join(parts, "\n")
}

// NewSystem returns an actor system for a test: protoactor's own log (every actor start and dead letter, at
// info level) is discarded, and the system is shut down when the test ends.
func NewSystem(t testing.TB) *actor.ActorSystem {
	discard := slog.New(slog.DiscardHandler)
	system := actor.NewActorSystemWithConfig(actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }),
	))
	t.Cleanup(system.Shutdown)
	return system
}
