package lifecycle

import (
	"fmt"
	"log/slog"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// Timer names.
const (
	timerCheck   = v1.Timer_TIMER_CHECK   // the next sanity check is due; epoch: the check schedule (checkGen)
	timerRestart = v1.Timer_TIMER_RESTART // the backoff after a crash is over; epoch: the restart generation
)

// sigTerm is what a failed user tear_down falls back to (the default tear-down of DESIGN §6).
const sigTerm int32 = 15

// tearDown stops the running process for r (DESIGN §6): the user's tear_down if there is one, else SIGTERM;
// the executor waits grace, then SIGKILLs unless soft. The grace runs from now, with the user's tear_down
// running meanwhile, so a slow tear_down cannot keep the process past it. The request goes on once the process
// ended and the tear_down returned.
func (m *Machine) tearDown(r *request, why string) []Effect {
	m.proc = procTerminating
	m.stopChecks()
	r.stage = stageTearDown
	s := m.cfg.Settings
	effects := []Effect{Log{Level: slog.LevelInfo, Msg: "tearing the process down", Args: []any{"pid", m.pid, "why", why}}}
	if m.cfg.Implements.TearDown {
		effects = append(effects, m.call(RunCallback{Name: cbTearDown, Pid: int(m.pid)})...)
	}
	return append(effects, TearDownProcess{Incarnation: m.inc, Term: !m.cfg.Implements.TearDown, Grace: s.Grace, Soft: s.Soft})
}

// tearDownDone: the user's tear_down returned. If the process already ended, the request goes on; if it
// failed while the process runs, fall back to SIGTERM.
func (m *Machine) tearDownDone(in *v1.CallbackDone) []Effect {
	if m.proc != procTerminating {
		return m.afterTearDown()
	}
	if in.GetFailure() == nil {
		return nil
	}
	return []Effect{
		Log{Level: slog.LevelWarn, Msg: "tear_down failed: sending SIGTERM", Args: []any{"pid", m.pid, "err", in.GetFailure().GetMessage()}},
		SignalProcess{Incarnation: m.inc, Signal: sigTerm},
	}
}

func (m *Machine) onStarted(in *v1.ExecStarted) []Effect {
	if in.GetIncarnation() != m.inc || m.proc != procStarting {
		return []Effect{Log{Level: slog.LevelDebug, Msg: "dropping a stale start", Args: []any{"incarnation", in.GetIncarnation()}}}
	}
	if in.GetFailure() != nil && in.GetResources() {
		return m.startDeferred(in.GetFailure().GetMessage())
	}
	if in.GetFailure() != nil {
		m.proc = procStopped
		// The original: a Popen that fails is a failed configuration.
		return m.configurationFailed("cannot start the process", fmt.Errorf("%s", in.GetFailure().GetMessage()))
	}
	m.proc, m.pid = procRunning, in.GetPid()
	m.starts++
	effects := []Effect{Log{Level: slog.LevelInfo, Msg: "process started", Args: []any{"pid", m.pid, "argv", m.argv, "starts", m.starts}}}
	switch {
	case m.cur == nil || m.cur.restartGen == 0:
		// A configured start: the checks begin after the start period (0: at once, like the original).
		effects = append(effects, m.startChecks(m.cfg.Settings.CheckStart)...)
	case !m.checking:
		if m.starts > 1 { // else the first start, retried for want of resources: no restart
			m.restarts++
		}
		effects = append(effects, m.startChecks(m.cfg.Settings.CheckEvery)...)
	default:
		// A restart after a crash keeps the schedule: the crash counts against the next check, so a process
		// that keeps crashing uses its checks up and turns the pod off however fast it crashes (DESIGN §6).
		m.restarts++
	}
	if m.cur != nil && m.cur.stage == stageStart {
		effects = append(effects, m.finish(codeOK, nil)...)
	}
	return effects
}

func (m *Machine) onExited(in *v1.ExecExited) []Effect {
	if in.GetIncarnation() != m.inc || (m.proc != procRunning && m.proc != procTerminating) {
		return []Effect{Log{Level: slog.LevelDebug, Msg: "dropping a stale exit", Args: []any{"incarnation", in.GetIncarnation()}}}
	}
	was := m.proc
	args := []any{"pid", m.pid, "code", in.GetCode(), "signal", in.GetSignal(), "killed", in.GetKilled()}
	m.proc, m.pid, m.metrics = procStopped, 0, nil
	m.exitCode = in.GetCode()
	m.exits++
	m.lastExit = &v1.ExitStatus{Code: in.GetCode(), Signal: in.GetSignal()}
	if was == procTerminating {
		effects := []Effect{Log{Level: slog.LevelInfo, Msg: "process torn down", Args: args}}
		if m.cb == cbTearDown {
			// The process is gone: the user's tear_down has nothing left to do. Its return is still awaited, as
			// callbacks never overlap (sdk).
			return append(effects, CancelCallback{Epoch: m.cbWait})
		}
		return append(effects, m.afterTearDown()...)
	}
	if in.GetCode() == 0 {
		// DESIGN §6: exit 0 means the work is done; the pod dies.
		m.enqueue(&request{Request: Request{Task: v1.Task_TASK_KILL}})
		return []Effect{Log{Level: slog.LevelInfo, Msg: "process finished: the pod dies", Args: args}}
	}
	m.failures++
	m.crashes++
	m.restartGen++
	m.restartPending = true
	delay := m.cfg.Settings.RestartBackoff.Delay(m.crashes - 1) // the first restart is immediate
	effects := []Effect{Log{Level: slog.LevelWarn, Msg: "process failed: restarting it", Args: append(args, "crashes", m.crashes, "restart_in", delay)}}
	if delay <= 0 {
		m.enqueueRestart()
		return effects
	}
	return append(effects, StartTimer{Name: timerRestart, Epoch: m.restartGen, After: delay})
}

// onForward passes a signal the pod received on to the process's group (DESIGN §13), out of the request
// queue: a signal does not wait for a slow callback.
func (m *Machine) onForward(in *v1.ForwardSignal) []Effect {
	if m.proc != procRunning && m.proc != procTerminating {
		return []Effect{Log{Level: slog.LevelInfo, Msg: "no process to forward the signal to", Args: []any{"signal", in.GetSignal()}}}
	}
	return []Effect{
		Log{Level: slog.LevelInfo, Msg: "forwarding a signal to the process group", Args: []any{"pid", m.pid, "signal", in.GetSignal()}},
		SignalProcess{Incarnation: m.inc, Signal: in.GetSignal()},
	}
}

// enqueueRestart queues an on without a body: the last configuration again, no reconfiguration.
func (m *Machine) enqueueRestart() {
	m.enqueue(&request{Request: Request{Task: v1.Task_TASK_ON}, restartGen: m.restartGen})
}

// afterTearDown continues the request that tore the process down.
func (m *Machine) afterTearDown() []Effect {
	r := m.cur
	if r == nil || r.stage != stageTearDown {
		return nil
	}
	switch r.Task {
	case v1.Task_TASK_ON:
		return m.initialize(r)
	case v1.Task_TASK_KILL:
		return m.finalize(r)
	}
	return m.finish(codeOK, nil)
}

func (m *Machine) onTimer(in *v1.TimerFired) []Effect {
	switch in.GetTimer() {
	case timerCheck:
		if in.GetEpoch() == m.checkGen && m.checking {
			m.checkDue = true
		}
	case timerRestart:
		if in.GetEpoch() == m.restartGen && !m.dead && m.proc == procStopped {
			m.enqueueRestart()
		}
	}
	return nil
}

// startChecks begins the schedule of sanity checks: the first one after the given delay (0: now).
func (m *Machine) startChecks(after time.Duration) []Effect {
	m.checking = true
	m.checkGen++
	if after <= 0 {
		m.checkDue = true
		return nil
	}
	m.checkDue = false
	return []Effect{StartTimer{Name: timerCheck, Epoch: m.checkGen, After: after}}
}

// stopChecks ends the schedule: the process is torn down, turned off or the pod dies.
func (m *Machine) stopChecks() {
	m.checking, m.checkDue = false, false
	m.checkGen++
}

// startCheck runs a sanity check (DESIGN §6): it fails at once when the process failed since the last one
// (running again or not), else asks the user's sanity_check. The next one is due check_every from now.
func (m *Machine) startCheck() []Effect {
	m.checkDue = false
	effects := []Effect{StartTimer{Name: timerCheck, Epoch: m.checkGen, After: m.cfg.Settings.CheckEvery}}
	switch {
	case m.failures > 0:
		return append(effects, m.checkFailed(fmt.Sprintf("%d process failure(s) since the last check", m.failures))...)
	case m.proc != procRunning:
		return append(effects, m.checkFailed("the process is not running: it waits for its restart after a crash")...)
	case !m.cfg.Implements.SanityCheck:
		return append(effects, m.checkPassed(nil)...)
	}
	m.checkInc = m.inc
	return append(effects, m.call(RunCallback{Name: cbSanityCheck, Pid: int(m.pid)})...)
}

func (m *Machine) checked(in *v1.CallbackDone) []Effect {
	if m.checkInc != m.inc || m.proc != procRunning {
		return []Effect{Log{Level: slog.LevelDebug, Msg: "dropping the sanity check of a process that is gone"}}
	}
	if in.GetFailure() != nil {
		return m.checkFailed(in.GetFailure().GetMessage())
	}
	return m.checkPassed(in.GetResult())
}

// checkPassed resets the budget and the crash history, and keeps the metrics.
func (m *Machine) checkPassed(metrics []byte) []Effect {
	m.checksLeft = m.cfg.Settings.Checks
	m.failures, m.crashes = 0, 0
	m.metrics = metrics
	m.checksPassed++
	return nil
}

// checkFailed costs one check; at zero the pod turns itself off, alive, waiting for the next on.
func (m *Machine) checkFailed(why string) []Effect {
	m.failures = 0
	m.checksLeft--
	m.checksFailed++
	n := m.cfg.Settings.Checks
	effects := []Effect{Log{Level: slog.LevelWarn, Msg: "sanity check failed", Args: []any{"failed", n - m.checksLeft, "checks", n, "err", why}}}
	if m.checksLeft > 0 {
		return effects
	}
	m.checksLeft = n
	m.enqueue(&request{Request: Request{Task: v1.Task_TASK_OFF}})
	return append(effects, Log{Level: slog.LevelWarn, Msg: "too many failed sanity checks: turning the pod off"})
}
