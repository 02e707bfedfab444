package spec

import (
	"context"
	"flag"
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
	if fuzzing() { // the fuzz targets run no process, and a reaper would reap the fuzzer's own workers
		return w.m.Run()
	}
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

// fuzzing tells a run of go test -fuzz: its coordinator and its workers.
func fuzzing() bool {
	if !flag.Parsed() {
		flag.Parse()
	}
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}
