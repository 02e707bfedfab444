package executor_test

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/actors/executor"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
)

// realHarness runs an executor on the real reaper and the wall clock.
func realHarness(t testing.TB) *harness {
	t.Helper()
	return newHarness(t, executor.Config{Spawner: reaper}, clock.Real{})
}

// shell starts a shell command with its output piped, and waits until it printed "ready" (its traps are set).
func (h *harness) shell(inc uint64, script string) int {
	h.t.Helper()
	h.send(&v1.ExecStart{Incarnation: inc, Argv: []string{script}, Shell: true, Pipe: true, Env: []string{"PATH=/usr/bin:/bin"}})
	pid := int(h.running(inc).GetPid())
	h.t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) }) // whatever happens, nothing of it outlives the test
	if strings.Contains(script, "echo ready") {
		eventually(h.t, "the process to be ready", func() bool { return h.output.has("ready") })
	}
	return pid
}

// gone waits until no process of the group is left, zombies included.
func gone(t testing.TB, pgid int) {
	t.Helper()
	eventually(t, "no process left in the group", func() bool { return len(groupMembers(pgid)) == 0 })
}

func TestIntegration_TearDownKillsAProcessIgnoringTermAfterTheGrace(t *testing.T) {
	h := realHarness(t)
	pid := h.shell(1, `trap "" TERM; echo ready; sleep 100`)
	const grace = 300 * time.Millisecond
	began := time.Now()
	h.send(tearDown(1, true, grace, false))
	x := h.exited(1)
	if took := time.Since(began); took < grace {
		t.Fatalf("killed after %s, before the grace of %s", took, grace)
	}
	if !x.GetTornDown() || !x.GetKilled() || x.GetSignal() != int32(syscall.SIGKILL) || x.GetCode() != 137 || x.GetPid() != int64(pid) {
		t.Fatalf("exited %v", x)
	}
	gone(t, pid)
}

func TestIntegration_SoftTearDownDoesNotKill(t *testing.T) {
	h := realHarness(t)
	pid := h.shell(1, `trap "" TERM; echo ready; sleep 100`)
	const grace = 100 * time.Millisecond
	h.send(tearDown(1, true, grace, true))
	// Well past the grace, the process still runs and nothing was reported.
	deadline := time.Now().Add(5 * grace)
	for time.Now().Before(deadline) {
		if st, _ := procState(pid); st == 0 || st == 'Z' {
			t.Fatalf("the process died (state %q) though the tear-down was soft", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.quiet()
	// Kill it ourselves: the tear-down is answered then, not killed by the executor.
	h.send(&v1.ExecSignal{Incarnation: 1, Signal: int32(syscall.SIGKILL)})
	x := h.exited(1)
	if !x.GetTornDown() || x.GetKilled() || x.GetSignal() != int32(syscall.SIGKILL) {
		t.Fatalf("exited %v", x)
	}
	gone(t, pid)
}

func TestIntegration_TearDownLeavesNothingOfTheGroup(t *testing.T) {
	tests := []struct {
		name   string
		script string
		code   int32
	}{
		// Every member dies of the SIGTERM.
		{"all polite", `sleep 100 & sleep 100 & echo ready; wait`, 143},
		// The shell dies of the SIGTERM, its child ignores it: the sweep after the shell's exit kills the child.
		{"a stubborn child", `(trap "" TERM; echo ready; exec sleep 100) & wait`, 143},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := realHarness(t)
			pid := h.shell(1, tt.script)
			eventually(t, "the children in the group", func() bool { return len(groupMembers(pid)) >= 2 })
			members := groupMembers(pid)
			h.send(tearDown(1, true, time.Minute, false))
			x := h.exited(1)
			if !x.GetTornDown() || x.GetKilled() || x.GetCode() != tt.code {
				t.Fatalf("exited %v", x)
			}
			gone(t, pid)
			for _, m := range members {
				if st, _ := procState(m); st != 0 {
					t.Fatalf("member %d still there in state %q", m, st)
				}
			}
		})
	}
}

func TestIntegration_PipedOutputReachesTheLogLineByLine(t *testing.T) {
	h := realHarness(t)
	h.shell(1, `printf 'one\ntwo\n'; echo oops >&2; printf 'no newline'`)
	if x := h.exited(1); x.GetCode() != 0 || x.GetTornDown() {
		t.Fatalf("exited %v", x)
	}
	want := []string{"no newline", "one", "oops", "two"}
	eventually(t, "every line", func() bool { return len(h.output.all()) == len(want) })
	got := h.output.all()
	slices.Sort(got) // stdout and stderr are two pipes: their relative order is not kept
	if !slices.Equal(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
	if i, j := slices.Index(h.output.all(), "one"), slices.Index(h.output.all(), "two"); i > j {
		t.Fatalf("stdout out of order: %q", h.output.all())
	}
}

func TestIntegration_ExitStatusAndANewIncarnation(t *testing.T) {
	h := realHarness(t)
	h.shell(1, `exit 3`)
	if x := h.exited(1); x.GetCode() != 3 || x.GetTornDown() {
		t.Fatalf("exited %v", x)
	}
	h.shell(2, `kill -SEGV $$`)
	if x := h.exited(2); x.GetCode() != 128+int32(syscall.SIGSEGV) || x.GetSignal() != int32(syscall.SIGSEGV) {
		t.Fatalf("exited %v", x)
	}
}

func TestIntegration_MissingProgramIsReported(t *testing.T) {
	h := realHarness(t)
	h.send(&v1.ExecStart{Incarnation: 1, Argv: []string{"no-such-program-ochopod"}, Env: []string{"PATH=/usr/bin:/bin"}})
	if m := h.started(1); !strings.Contains(m.GetFailure().GetMessage(), `"no-such-program-ochopod": not in PATH`) {
		t.Fatalf("started %v", m)
	}
}

// BenchmarkIntegration_Restart measures one restart through the actor with real processes: ExecStart until
// ExecStarted reaches the parent (start-ms), then ExecTearDown until ExecExited reaches it (stop-ms: SIGTERM,
// exit, reap, report).
func BenchmarkIntegration_Restart(b *testing.B) {
	h := realHarness(b)
	var inc uint64
	var startTotal, stopTotal time.Duration
	for b.Loop() {
		inc++
		t0 := time.Now()
		h.send(&v1.ExecStart{Incarnation: inc, Argv: []string{"sleep", "100"}, Env: []string{"PATH=/usr/bin:/bin"}})
		h.running(inc)
		t1 := time.Now()
		h.send(tearDown(inc, true, time.Minute, false))
		if x := h.exited(inc); x.GetCode() != 143 {
			b.Fatalf("exited %v", x)
		}
		startTotal += t1.Sub(t0)
		stopTotal += time.Since(t1)
	}
	b.ReportMetric(float64(startTotal.Microseconds())/1000/float64(b.N), "start-ms/op")
	b.ReportMetric(float64(stopTotal.Microseconds())/1000/float64(b.N), "stop-ms/op")
}
