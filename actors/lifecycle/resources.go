package lifecycle

import "log/slog"

// startDeferred: the spawn failed for want of resources (DESIGN §12: too many open files, an environment
// too long). That is never a reason for the pod to die: the request that started it is answered 200 (the
// pod is configured), and the start is tried again after the crash backoff, as a crashed process is.
func (m *Machine) startDeferred(why string) []Effect {
	m.proc = procStopped
	m.crashes++
	m.restartGen++
	delay := m.cfg.Settings.RestartBackoff.Delay(m.crashes) // never at once: resources take a moment to free
	effects := []Effect{
		Log{Level: slog.LevelWarn, Msg: "cannot start the process for want of resources: trying again", Args: []any{"err", why, "tries", m.crashes, "retry_in", delay}},
		StartTimer{Name: timerRestart, Epoch: m.restartGen, After: delay},
	}
	if m.cur != nil && m.cur.stage == stageStart {
		effects = append(effects, m.finish(codeOK, nil)...)
	}
	return effects
}
