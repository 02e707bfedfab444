package lifecycle

import (
	"log/slog"
)

// Resume starts the machine as the next incarnation of prev, the machine of a lifecycle that crashed (or
// was stopped with the pod's root, which restarts). A lifecycle's state is the pod's for the life of its
// process and nothing outside holds it (the leader configures a pod only when its cluster changes), so a new
// incarnation starting blank would leave the pod unconfigured for good. It keeps what the pod was configured
// with and what it counted; what was in flight is gone: the requests (their callers time out), the callback
// (its completion is of an older epoch), the timers, and the process, which the executor killed when it was
// stopped with its parent (actors/executor). The pod's own requests run again; a process that ran, or was
// starting or waiting to restart, starts again with the last configuration, as after a crash; a dead pod stays
// dead.
func (m *Machine) Resume(prev *Machine) []Effect {
	m.initialized, m.finalized, m.dead, m.exitCode = prev.initialized, prev.finalized, prev.dead, prev.exitCode
	m.argv, m.overrides, m.last, m.base, m.lastCheck = prev.argv, prev.overrides, prev.last, prev.base, prev.lastCheck
	m.inc, m.starts, m.restarts, m.exits, m.lastExit = prev.inc, prev.starts, prev.restarts, prev.exits, prev.lastExit
	m.checksLeft, m.checksPassed, m.checksFailed = prev.checksLeft, prev.checksPassed, prev.checksFailed
	m.failures, m.crashes, m.cbEpoch = prev.failures, prev.crashes, prev.cbEpoch
	m.restartGen = prev.restartGen
	effects := []Effect{Log{Level: slog.LevelWarn, Msg: "lifecycle restarted: resuming its configuration", Args: []any{"configured", m.argv != nil, "dead", m.dead}}}
	// The pod's own requests (its death after an exit 0, off once the checks are used up, a restart) are
	// decisions, not callers': they run again, in their order.
	for _, r := range append([]*request{prev.cur}, prev.queue...) {
		if r != nil && r.Handle == 0 {
			m.enqueue(&request{Request: r.Request, restartGen: r.restartGen, failed: r.failed})
		}
	}
	if !m.dead && m.argv != nil && (prev.proc != procStopped || prev.restartPending) {
		m.restartGen++ // supersedes a restart carried over
		m.restartPending = true
		m.enqueueRestart()
	}
	return m.publish(append(effects, m.pump()...))
}
