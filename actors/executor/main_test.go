package executor_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/ochopod/ochopod/runtime/proc"
)

// reaper is the one real reaper of this test binary (a program has one), shared by the integration tests. The
// test process is made a child subreaper, so descendants of torn-down groups are reaped here too and a test
// can check that not even a zombie is left.
var reaper *proc.Reaper

type withReaper struct{ m *testing.M }

func (w withReaper) Run() int {
	if err := proc.SetChildSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	reaper = proc.NewReaper(nil)
	if err := reaper.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := w.m.Run()
	reaper.Close()
	return code
}

// No goroutine may outlive the tests: not the exit waiters, not the output copies, not the reaper. The one
// exception is protoactor's dead-letter throttle, which ends by itself one interval after a dead letter.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(withReaper{m},
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	)
}
