package executor

import (
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// kinds names the effects, dropping logs, so tables read as the protocol.
func kinds(effects []Effect) []string {
	var out []string
	for _, e := range effects {
		switch e := e.(type) {
		case Log:
		case Spawn:
			out = append(out, fmt.Sprintf("spawn#%d(%s)", e.Incarnation, strings.Join(e.Argv, " ")))
		case Signal:
			out = append(out, fmt.Sprintf("sig#%d(%s)", e.Incarnation, sigName(e.Signal)))
		case StartTimer:
			out = append(out, fmt.Sprintf("timer#%d(%s,%s)", e.Epoch, protocol.Name(e.Name), e.After))
		case StopTimer:
			out = append(out, fmt.Sprintf("stoptimer(%s)", protocol.Name(e.Name)))
		case Report:
			switch m := e.Msg.(type) {
			case *v1.ExecStarted:
				if m.GetFailure() != nil {
					out = append(out, fmt.Sprintf("started#%d(error)", m.GetIncarnation()))
				} else {
					out = append(out, fmt.Sprintf("started#%d(%d)", m.GetIncarnation(), m.GetPid()))
				}
			case *v1.ExecExited:
				out = append(out, fmt.Sprintf("exited#%d(pid=%d,code=%d,sig=%d,killed=%v,torn=%v)", m.GetIncarnation(),
					m.GetPid(), m.GetCode(), m.GetSignal(), m.GetKilled(), m.GetTornDown()))
			}
		default:
			out = append(out, fmt.Sprintf("%T", e))
		}
	}
	return out
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGKILL:
		return "KILL"
	case syscall.SIGHUP:
		return "HUP"
	}
	return fmt.Sprint(int(s))
}

func start(inc uint64, argv ...string) *v1.ExecStart {
	return &v1.ExecStart{Incarnation: inc, Argv: argv}
}

func started(inc uint64, pid int64) *v1.ExecStarted {
	return &v1.ExecStarted{Incarnation: inc, Pid: pid}
}

func exited(inc uint64, pid int64, code int32, sig syscall.Signal) *v1.ExecExited {
	return &v1.ExecExited{Incarnation: inc, Pid: pid, Code: code, Signal: int32(sig)}
}

func teardown(inc uint64, term bool, grace time.Duration, soft bool) *v1.ExecTearDown {
	return &v1.ExecTearDown{Incarnation: inc, Term: term, Grace: durationpb.New(grace), Soft: soft}
}

func fired(inc uint64) *v1.TimerFired { return &v1.TimerFired{Timer: timerGrace, Epoch: inc} }

type step struct {
	in   any
	want []string
}

func run(t *testing.T, m *Machine, steps []step) {
	t.Helper()
	for i, s := range steps {
		got := kinds(m.Handle(input(s.in)))
		if !reflect.DeepEqual(got, s.want) && !(len(got) == 0 && len(s.want) == 0) {
			t.Fatalf("step %d (%T %v): effects %q, want %q", i, s.in, s.in, got, s.want)
		}
	}
}

// runningMachine has incarnation 1 running as pid 42.
func runningMachine(t *testing.T) *Machine {
	m := NewMachine()
	run(t, m, []step{
		{start(1, "sleep", "100"), []string{"spawn#1(sleep 100)"}},
		{started(1, 42), []string{"started#1(42)"}},
	})
	if m.State() != "running" || m.Pid() != 42 {
		t.Fatalf("state %s pid %d", m.State(), m.Pid())
	}
	return m
}

func TestExecutor_ReportsAnExitByItself(t *testing.T) {
	m := runningMachine(t)
	run(t, m, []step{
		{exited(1, 42, 3, 0), []string{"sig#1(KILL)", "exited#1(pid=42,code=3,sig=0,killed=false,torn=false)"}},
		{exited(1, 42, 3, 0), nil}, // duplicate
	})
	if m.State() != "idle" || m.Pid() != 0 {
		t.Fatalf("state %s pid %d", m.State(), m.Pid())
	}
}

func TestExecutor_ReportsADeathBySignal(t *testing.T) {
	m := runningMachine(t)
	run(t, m, []step{
		{exited(1, 42, 139, syscall.SIGSEGV), []string{"sig#1(KILL)", "exited#1(pid=42,code=139,sig=11,killed=false,torn=false)"}},
	})
}

func TestExecutor_SpawnFailureIsReported(t *testing.T) {
	m := NewMachine()
	run(t, m, []step{
		{start(1, "nope"), []string{"spawn#1(nope)"}},
		{&v1.ExecStarted{Incarnation: 1, Failure: protocol.Other("not found")}, []string{"started#1(error)"}},
		{start(2, "true"), []string{"spawn#2(true)"}},
	})
}

func TestExecutor_StartIsRefused(t *testing.T) {
	tests := []struct {
		name  string
		setup []step
		start *v1.ExecStart
	}{
		{"while running", nil, start(2, "x")},
		{"while terminating", []step{{teardown(1, true, time.Minute, false), []string{"timer#1(grace,1m0s)", "sig#1(TERM)"}}}, start(2, "x")},
		{"same incarnation after its exit", []step{{exited(1, 42, 0, 0), []string{"sig#1(KILL)", "exited#1(pid=42,code=0,sig=0,killed=false,torn=false)"}}}, start(1, "x")},
		{"older incarnation", []step{{exited(1, 42, 0, 0), []string{"sig#1(KILL)", "exited#1(pid=42,code=0,sig=0,killed=false,torn=false)"}}}, start(0, "x")},
		{"empty command", []step{{exited(1, 42, 0, 0), []string{"sig#1(KILL)", "exited#1(pid=42,code=0,sig=0,killed=false,torn=false)"}}}, start(2)},
		{"empty program", []step{{exited(1, 42, 0, 0), []string{"sig#1(KILL)", "exited#1(pid=42,code=0,sig=0,killed=false,torn=false)"}}}, start(2, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := runningMachine(t)
			run(t, m, tt.setup)
			state, inc := m.State(), m.Incarnation()
			want := fmt.Sprintf("started#%d(error)", tt.start.GetIncarnation())
			run(t, m, []step{{tt.start, []string{want}}})
			if m.State() != state || m.Incarnation() != inc {
				t.Fatalf("a refused start changed the machine: %s#%d → %s#%d", state, inc, m.State(), m.Incarnation())
			}
		})
	}
}

func TestExecutor_TearDownKillsAfterTheGrace(t *testing.T) {
	m := runningMachine(t)
	run(t, m, []step{
		{teardown(1, true, 30*time.Second, false), []string{"timer#1(grace,30s)", "sig#1(TERM)"}},
		{&v1.ExecSignal{Incarnation: 1, Signal: int32(syscall.SIGHUP)}, []string{"sig#1(HUP)"}}, // still signalable
		{fired(1), []string{"sig#1(KILL)"}},
		{fired(1), nil},
		{exited(1, 42, 137, syscall.SIGKILL), []string{"sig#1(KILL)", "exited#1(pid=42,code=137,sig=9,killed=true,torn=true)"}},
	})
}

func TestExecutor_TearDownEndsWithinTheGrace(t *testing.T) {
	m := runningMachine(t)
	run(t, m, []step{
		{teardown(1, true, 30*time.Second, false), []string{"timer#1(grace,30s)", "sig#1(TERM)"}},
		// The leader is gone: stop the timer, sweep what is left of its group.
		{exited(1, 42, 143, syscall.SIGTERM), []string{"stoptimer(grace)", "sig#1(KILL)", "exited#1(pid=42,code=143,sig=15,killed=false,torn=true)"}},
		{fired(1), nil}, // too late
	})
}

func TestExecutor_SoftNeverKills(t *testing.T) {
	m := runningMachine(t)
	run(t, m, []step{
		{teardown(1, true, 30*time.Second, true), []string{"sig#1(TERM)"}},
		{fired(1), nil},
		{exited(1, 42, 0, 0), []string{"exited#1(pid=42,code=0,sig=0,killed=false,torn=true)"}},
	})
}

func TestExecutor_TearDownVariants(t *testing.T) {
	tests := []struct {
		name string
		td   *v1.ExecTearDown
		want []string
	}{
		{"the lifecycle ran its own tear-down", teardown(1, false, 10*time.Second, false), []string{"timer#1(grace,10s)"}},
		{"no grace kills at once", teardown(1, true, 0, false), []string{"sig#1(TERM)", "sig#1(KILL)"}},
		{"negative grace is none", teardown(1, true, -time.Second, false), []string{"sig#1(TERM)", "sig#1(KILL)"}},
		{"no grace given", &v1.ExecTearDown{Incarnation: 1, Term: true}, []string{"sig#1(TERM)", "sig#1(KILL)"}},
		{"soft without term waits for ever", teardown(1, false, time.Second, true), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := runningMachine(t)
			run(t, m, []step{{tt.td, tt.want}})
			if m.State() != "terminating" {
				t.Fatalf("state %s", m.State())
			}
		})
	}
}

func TestExecutor_TearDownOfNoRunningProcessAnswersAtOnce(t *testing.T) {
	m := NewMachine()
	run(t, m, []step{
		{teardown(1, true, time.Second, false), []string{"exited#1(pid=0,code=0,sig=0,killed=false,torn=true)"}},
		{start(2, "x"), []string{"spawn#2(x)"}},
		{started(2, 7), []string{"started#2(7)"}},
		// Another incarnation than the running one: that one does not run, nothing is signalled.
		{teardown(1, true, time.Second, false), []string{"exited#1(pid=0,code=0,sig=0,killed=false,torn=true)"}},
		{exited(2, 7, 1, 0), []string{"sig#2(KILL)", "exited#2(pid=7,code=1,sig=0,killed=false,torn=false)"}},
		// The tear-down crossed the exit: answered at once as well.
		{teardown(2, true, time.Second, false), []string{"exited#2(pid=0,code=0,sig=0,killed=false,torn=true)"}},
	})
}

func TestExecutor_TearDownWhileStartingWaitsForTheStart(t *testing.T) {
	m := NewMachine()
	run(t, m, []step{
		{start(1, "x"), []string{"spawn#1(x)"}},
		{teardown(1, true, 5*time.Second, false), nil},
		{started(1, 9), []string{"started#1(9)", "timer#1(grace,5s)", "sig#1(TERM)"}},
	})
	m = NewMachine()
	run(t, m, []step{
		{start(1, "x"), []string{"spawn#1(x)"}},
		{teardown(1, true, 5*time.Second, false), nil},
		{&v1.ExecStarted{Incarnation: 1, Failure: protocol.Other("boom")}, []string{"started#1(error)", "exited#1(pid=0,code=0,sig=0,killed=false,torn=true)"}},
	})
}

func TestExecutor_SecondTearDownIsMerged(t *testing.T) {
	m := runningMachine(t)
	run(t, m, []step{
		{teardown(1, false, time.Second, true), nil},                                              // soft, no term: nothing yet
		{teardown(1, true, 20*time.Second, false), []string{"sig#1(TERM)", "timer#1(grace,20s)"}}, // now TERM and a KILL later
		{teardown(1, true, time.Second, false), nil},                                              // nothing harsher left to do
		{fired(1), []string{"sig#1(KILL)"}},
		{exited(1, 42, 137, syscall.SIGKILL), []string{"sig#1(KILL)", "exited#1(pid=42,code=137,sig=9,killed=true,torn=true)"}},
	})
}

func TestExecutor_StaleCompletionsAreDropped(t *testing.T) {
	m := runningMachine(t)
	run(t, m, []step{
		{started(1, 42), nil},      // not starting
		{exited(0, 42, 0, 0), nil}, // older incarnation
		{exited(1, 43, 0, 0), nil}, // another pid
		{fired(1), nil},            // no tear-down
		{&v1.TimerFired{Timer: v1.Timer_TIMER_CHECK, Epoch: 1}, nil},
		{&v1.ExecSignal{Incarnation: 2, Signal: 1}, nil}, // not running
		{&v1.ExecSignal{Incarnation: 1, Signal: 1}, []string{"sig#1(HUP)"}},
		{"junk", nil},
	})
	run(t, m, []step{
		{exited(1, 42, 0, 0), []string{"sig#1(KILL)", "exited#1(pid=42,code=0,sig=0,killed=false,torn=false)"}},
		{&v1.ExecSignal{Incarnation: 1, Signal: 1}, nil}, // exited
		{start(2, "x"), []string{"spawn#2(x)"}},
		{started(1, 50), nil}, // started of another incarnation
		{started(2, 51), []string{"started#2(51)"}},
		{teardown(2, true, time.Second, false), []string{"timer#2(grace,1s)", "sig#2(TERM)"}},
		{fired(1), nil}, // a timer of the old incarnation
	})
}

// input is msg as the machine's input (nil, which the machine ignores, when it is none).
func input(msg any) *v1.ExecutorInput { return protocol.Input[*v1.ExecutorInput](msg) }
