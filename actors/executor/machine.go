package executor

import (
	"fmt"
	"log/slog"
	"syscall"
	"time"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// timerGrace: the grace period of a tear-down is over; SIGKILL unless soft.
const timerGrace = v1.Timer_TIMER_GRACE

type state int

const (
	stateIdle        state = iota // no process
	stateStarting                 // spawn issued, waiting for its ExecStarted
	stateRunning                  // the process runs
	stateTerminating              // torn down, waiting for its exit
)

func (s state) String() string {
	switch s {
	case stateIdle:
		return "idle"
	case stateStarting:
		return "starting"
	case stateRunning:
		return "running"
	}
	return "terminating"
}

// tearDown is a tear-down in progress, or asked for while the process was starting.
type tearDown struct {
	term  bool
	grace time.Duration
	soft  bool
}

// Machine is the executor's pure state machine (DESIGN §6): one sub-process at a time. Feed it inputs with
// Handle; carry out the effects it returns in order. It does no I/O, reads no clock and starts no goroutine.
//
// Inputs: ExecStart, ExecSignal, ExecTearDown (requests), and the completions ExecStarted, ExecExited,
// TimerFired (from the behaviour). Completions of another incarnation than the current one are dropped.
type Machine struct {
	state       state
	incarnation uint64 // of the current process, or of the last one once idle
	pid         int64
	td          *tearDown // pending (starting) or in progress (terminating)
	termSent    bool
	killSent    bool
	graceArmed  bool
}

// NewMachine returns an idle machine.
func NewMachine() *Machine { return &Machine{} }

// State names the current state, for logs and tests.
func (m *Machine) State() string { return m.state.String() }

// Incarnation is the incarnation of the current (or last) process.
func (m *Machine) Incarnation() uint64 { return m.incarnation }

// Pid is the pid of the running process, 0 when none runs.
func (m *Machine) Pid() int64 {
	if m.state == stateRunning || m.state == stateTerminating {
		return m.pid
	}
	return 0
}

// Handle feeds one input to the machine.
func (m *Machine) Handle(in *v1.ExecutorInput) []Effect {
	switch in := protocol.Unwrap(in).(type) {
	case *v1.ExecStart:
		return m.onStart(in)
	case *v1.ExecStarted:
		if m.state != stateStarting || in.GetIncarnation() != m.incarnation {
			return nil // stale
		}
		return m.onStarted(in)
	case *v1.ExecExited:
		if (m.state != stateRunning && m.state != stateTerminating) || in.GetIncarnation() != m.incarnation ||
			in.GetPid() != m.pid {
			return nil // stale
		}
		return m.onExited(in)
	case *v1.ExecSignal:
		return m.onSignal(in)
	case *v1.ExecTearDown:
		return m.onTearDown(in)
	case *v1.TimerFired:
		if in.GetTimer() != timerGrace || in.GetEpoch() != m.incarnation {
			return nil
		}
		return m.onGrace()
	}
	return nil
}

func (m *Machine) onStart(in *v1.ExecStart) []Effect {
	inc := in.GetIncarnation()
	refuse := func(why string) []Effect {
		return []Effect{
			Log{Level: slog.LevelWarn, Msg: "start refused: " + why, Args: []any{"epoch", inc}},
			Report{Msg: &v1.ExecStarted{Incarnation: inc, Failure: protocol.Other(why)}},
		}
	}
	switch {
	case m.state != stateIdle:
		// DESIGN §6: the lifecycle tears the old process down before it starts a new one.
		return refuse(fmt.Sprintf("the process of incarnation %d is %s", m.incarnation, m.state))
	case inc <= m.incarnation:
		return refuse(fmt.Sprintf("incarnation %d is not newer than %d", inc, m.incarnation))
	case len(in.GetArgv()) == 0 || in.GetArgv()[0] == "":
		return refuse("empty command")
	}
	m.state, m.incarnation, m.pid = stateStarting, inc, 0
	m.td, m.termSent, m.killSent, m.graceArmed = nil, false, false, false
	return []Effect{Spawn{
		Incarnation: inc,
		Argv:        in.GetArgv(),
		Shell:       in.GetShell(),
		Dir:         in.GetCwd(),
		Env:         in.GetEnv(),
		Pipe:        in.GetPipe(),
	}}
}

func (m *Machine) onStarted(in *v1.ExecStarted) []Effect {
	inc := m.incarnation
	if in.GetFailure() != nil {
		m.state = stateIdle
		effects := []Effect{
			Log{Level: slog.LevelError, Msg: "could not start the process", Args: []any{"epoch", inc, "err", in.GetFailure().GetMessage()}},
			Report{Msg: &v1.ExecStarted{Incarnation: inc, Failure: in.GetFailure()}},
		}
		if m.td != nil { // a tear-down came while starting: nothing runs, answer it now
			m.td = nil
			effects = append(effects, Report{Msg: &v1.ExecExited{Incarnation: inc, TornDown: true}})
		}
		return effects
	}
	m.state, m.pid = stateRunning, in.GetPid()
	effects := []Effect{
		Log{Level: slog.LevelInfo, Msg: "process started", Args: []any{"epoch", inc, "pid", m.pid}},
		Report{Msg: &v1.ExecStarted{Incarnation: inc, Pid: m.pid}},
	}
	if td := m.td; td != nil {
		effects = append(effects, m.beginTearDown(*td)...)
	}
	return effects
}

func (m *Machine) onExited(in *v1.ExecExited) []Effect {
	inc := m.incarnation
	out := &v1.ExecExited{
		Incarnation: inc,
		Pid:         m.pid,
		Code:        in.GetCode(),
		Signal:      in.GetSignal(),
		Killed:      m.killSent,
		TornDown:    m.state == stateTerminating,
	}
	var effects []Effect
	if m.graceArmed {
		m.graceArmed = false
		effects = append(effects, StopTimer{Name: timerGrace})
	}
	if m.td == nil || !m.td.soft {
		// The group's leader is gone, by itself or torn down: whatever it left in its group goes too, so no
		// child of a crashed process outlives it into the next incarnation (SIGKILL; a soft tear-down keeps them).
		effects = append(effects, Signal{Incarnation: inc, Signal: syscall.SIGKILL})
	}
	msg := "process exited"
	if out.GetTornDown() {
		msg = "process torn down"
	}
	m.state, m.td = stateIdle, nil
	return append(effects,
		Log{Level: slog.LevelInfo, Msg: msg, Args: []any{"epoch", inc, "pid", out.GetPid(), "code", out.GetCode(), "killed", out.GetKilled()}},
		Report{Msg: out},
	)
}

func (m *Machine) onSignal(in *v1.ExecSignal) []Effect {
	if (m.state != stateRunning && m.state != stateTerminating) || in.GetIncarnation() != m.incarnation {
		return []Effect{Log{Level: slog.LevelDebug, Msg: "signal for no running process dropped",
			Args: []any{"epoch", in.GetIncarnation(), "signal", in.GetSignal()}}}
	}
	return []Effect{Signal{Incarnation: m.incarnation, Signal: syscall.Signal(in.GetSignal())}}
}

func (m *Machine) onTearDown(in *v1.ExecTearDown) []Effect {
	td := tearDown{term: in.GetTerm(), grace: max(in.GetGrace().AsDuration(), 0), soft: in.GetSoft()}
	inc := in.GetIncarnation()
	if inc != m.incarnation || m.state == stateIdle {
		// Nothing of that incarnation runs (it exited already, or never started): done at once.
		return []Effect{
			Log{Level: slog.LevelDebug, Msg: "tear-down of no running process", Args: []any{"epoch", inc}},
			Report{Msg: &v1.ExecExited{Incarnation: inc, TornDown: true}},
		}
	}
	switch m.state {
	case stateStarting:
		m.td = &td
		return nil
	case stateRunning:
		return m.beginTearDown(td)
	}
	// Terminating already: the harsher of the two wins, and the process is answered for once.
	var effects []Effect
	if td.term && !m.termSent {
		m.termSent = true
		effects = append(effects, Signal{Incarnation: inc, Signal: syscall.SIGTERM})
	}
	if !td.soft && m.td.soft {
		m.td.soft, m.td.grace = false, td.grace
		effects = append(effects, m.armKill(td.grace)...)
	}
	return effects
}

// beginTearDown: SIGTERM unless term is false, SIGKILL after grace unless soft (DESIGN §6). The grace timer is
// set before the SIGTERM goes out, so whoever sees the signal can count on the timer.
func (m *Machine) beginTearDown(td tearDown) []Effect {
	m.state, m.td = stateTerminating, &td
	effects := []Effect{Log{Level: slog.LevelInfo, Msg: "tearing the process down",
		Args: []any{"epoch", m.incarnation, "pid", m.pid, "term", td.term, "grace", td.grace, "soft", td.soft}}}
	if !td.soft && td.grace > 0 {
		effects = append(effects, m.armKill(td.grace)...)
	}
	if td.term {
		m.termSent = true
		effects = append(effects, Signal{Incarnation: m.incarnation, Signal: syscall.SIGTERM})
	}
	if !td.soft && td.grace <= 0 {
		effects = append(effects, m.kill()...)
	}
	return effects
}

// armKill sets the grace timer, or kills at once without a grace period.
func (m *Machine) armKill(grace time.Duration) []Effect {
	if grace <= 0 {
		return m.kill()
	}
	m.graceArmed = true
	return []Effect{StartTimer{Name: timerGrace, Epoch: m.incarnation, After: grace}}
}

func (m *Machine) onGrace() []Effect {
	m.graceArmed = false
	if m.state != stateTerminating || m.td.soft || m.killSent {
		return nil
	}
	return append([]Effect{Log{Level: slog.LevelWarn, Msg: fmt.Sprintf("still running %s after the tear-down: SIGKILL", m.td.grace),
		Args: []any{"epoch", m.incarnation, "pid", m.pid}}}, m.kill()...)
}

func (m *Machine) kill() []Effect {
	m.killSent = true
	return []Effect{Signal{Incarnation: m.incarnation, Signal: syscall.SIGKILL}}
}
