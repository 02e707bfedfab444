package spec

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/ochopod/ochopod/runtime/proc"
)

// reaper is the one reaper of this test binary: a program has one (two would steal each other's statuses), so
// every test that runs a process shares it. TestMain starts it and makes the test process a child subreaper,
// so the orphans of a killed hook are reaped here too.
var reaper *proc.Reaper //nolint:gochecknoglobals // one per test binary, like the program's

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

// Every goroutine (the reaper's, the output copies, the timers) must be gone once the processes are.
func TestMain(m *testing.M) { goleak.VerifyTestMain(withReaper{m}) }
