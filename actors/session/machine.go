package session

import (
	"fmt"
	"log/slog"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
)

// Timer names.
const (
	timerConnect = v1.Timer_TIMER_CONNECT // no session within the connect timeout: give this client up and redial
	timerRedial  = v1.Timer_TIMER_REDIAL  // the backoff after a failure is over
	timerSuspend = v1.Timer_TIMER_SUSPEND // disconnected for long enough that the lock may be someone else's
)

type phase int

const (
	phaseIdle        phase = iota // before Start
	phaseIdentity                 // waiting for the parent's Identity
	phaseConnecting               // dialed, waiting for a session
	phaseRegistering              // session up, registration in flight
	phaseRegistered               // registered; the leader contends
	phaseBackoff                  // a failure: waiting before the next dial
	phaseStopping                 // deregistering
	phaseStopped
)

func (p phase) String() string {
	switch p {
	case phaseIdle:
		return "idle"
	case phaseIdentity:
		return "identity"
	case phaseConnecting:
		return "connecting"
	case phaseRegistering:
		return "registering"
	case phaseRegistered:
		return "registered"
	case phaseBackoff:
		return "backoff"
	case phaseStopping:
		return "stopping"
	}
	return "stopped"
}

// MachineConfig holds the machine's settings.
type MachineConfig struct {
	Cluster        string        // qualified name, for the status
	ConnectTimeout time.Duration // how long a dial may go without a session before it is given up
	// SuspendAfter is how long the pod may stay disconnected before it stops trusting its leadership. The
	// client notices a silent server only after two thirds of the session timeout, and the server expires the
	// session one timeout after it last heard from us, so a third of the timeout is all that is left.
	SuspendAfter time.Duration
	Backoff      backoff.Policy
	// FirstEpoch is where this machine's epochs start. A restarted actor's machine starts past every epoch
	// of the instance before it, so that instance's late completions and client events are never taken for
	// its own.
	FirstEpoch uint64
}

// Machine is the session's pure state machine (DESIGN §5). Feed it inputs with Handle; carry out the effects it
// returns in order. It does no I/O and reads no clock.
type Machine struct {
	cfg      MachineConfig
	phase    phase
	epoch    uint64 // one per dial; completions of older epochs are dropped
	failures int    // consecutive failed attempts, for the backoff
	key      string
	seq      int64
	hasSeq   bool // seq is assigned (the first sequence number can be 0)
	path     string
	session  int64
	conn     bool // a client of the current epoch exists and must be closed
	online   bool // connected to a server right now
	leading  bool // a leader child runs
	role     v1.Role
	lockPath string
	cause    string // why the current dial cannot reach a server, as the client last said
}

// NewMachine returns a machine in its idle phase.
func NewMachine(cfg MachineConfig) *Machine {
	return &Machine{cfg: cfg, role: v1.Role_ROLE_FOLLOWER, epoch: cfg.FirstEpoch}
}

// Start begins the life of the session: first the identity.
func (m *Machine) Start() []Effect {
	if m.phase != phaseIdle {
		return nil
	}
	m.phase = phaseIdentity
	return []Effect{AskIdentity{}}
}

// Status is the machine's view as a message.
func (m *Machine) Status() *v1.SessionStatus {
	return &v1.SessionStatus{
		Key:        m.key,
		Seq:        m.seq,
		Cluster:    m.cfg.Cluster,
		Registered: m.phase == phaseRegistered,
		Connected:  m.online,
		Role:       m.role,
		Path:       m.path,
		SessionId:  m.session,
		Epoch:      m.epoch,
		LockPath:   m.lockPath,
	}
}

// Phase names the current phase, for logs and tests.
func (m *Machine) Phase() string { return m.phase.String() }

// Handle feeds one input to the machine.
func (m *Machine) Handle(in *v1.SessionInput) []Effect {
	switch in := in.GetInput().(type) {
	case *v1.SessionInput_Identity:
		return m.onIdentity(in.Identity)
	case *v1.SessionInput_State:
		if in.State.GetEpoch() != m.epoch {
			return nil // an event of a client we already gave up
		}
		return m.onState(in.State)
	case *v1.SessionInput_Registered:
		if in.Registered.GetEpoch() != m.epoch || m.phase != phaseRegistering {
			return nil
		}
		return m.onRegistered(in.Registered)
	case *v1.SessionInput_Timer:
		if in.Timer.GetEpoch() != m.epoch {
			return nil
		}
		return m.onTimer(in.Timer)
	case *v1.SessionInput_Leadership:
		return m.onLeadership(in.Leadership)
	case *v1.SessionInput_ResetSession:
		return m.onReset(in.ResetSession)
	case *v1.SessionInput_Stop:
		return m.onStop()
	case *v1.SessionInput_Deregistered:
		if in.Deregistered.GetEpoch() != m.epoch || m.phase != phaseStopping {
			return nil
		}
		m.phase = phaseStopped
		m.conn = false
		msg := "deregistered"
		if m.path == "" {
			msg = "stopped before registering"
		}
		m.path = ""
		return []Effect{Log{Level: slog.LevelInfo, Msg: msg}, m.publish(), Stopped{}}
	}
	return nil
}

func (m *Machine) onIdentity(in *v1.Identity) []Effect {
	if m.phase != phaseIdentity {
		return nil
	}
	if in.GetKey() == "" {
		return []Effect{Log{Level: slog.LevelError, Msg: "identity without a key: waiting for a valid one"}}
	}
	m.key, m.seq, m.hasSeq = in.GetKey(), in.GetSeq(), in.GetHasSeq()
	return m.dial()
}

func (m *Machine) dial() []Effect {
	m.epoch++
	m.cause = ""
	m.phase = phaseConnecting
	m.conn = true
	m.online = false
	m.session = 0
	return []Effect{
		Dial{Epoch: m.epoch},
		StartTimer{Name: timerConnect, Epoch: m.epoch, After: m.cfg.ConnectTimeout},
	}
}

func (m *Machine) onState(in *v1.SessionStateChanged) []Effect {
	switch in.GetState() {
	case v1.ZkState_ZK_STATE_CONNECTING:
		// The cause at WARN once per attempt (the client retries every server meanwhile): a person can act on
		// "connection refused" or "no such host", not on a timeout alone.
		if in.GetFailure().GetMessage() == "" || m.phase != phaseConnecting || in.GetFailure().GetMessage() == m.cause {
			return nil
		}
		m.cause = in.GetFailure().GetMessage()
		return []Effect{Log{Level: slog.LevelWarn, Msg: "cannot reach ZooKeeper (retrying): " + m.cause, Args: []any{"epoch", m.epoch}}}
	case v1.ZkState_ZK_STATE_CONNECTED:
		wasOnline := m.online
		m.online = true
		if m.phase == phaseConnecting {
			m.phase = phaseRegistering
			m.session = in.GetSessionId()
			return []Effect{
				Log{Level: slog.LevelInfo, Msg: "session established", Args: []any{"session", fmt.Sprintf("%#x", m.session), "server", in.GetServer()}},
				Register{Epoch: m.epoch, Key: m.key, Seq: m.seq, HasSeq: m.hasSeq},
				m.publish(),
			}
		}
		if !wasOnline && m.phase != phaseStopping {
			effects := []Effect{Log{Level: slog.LevelInfo, Msg: "reconnected within the session", Args: []any{"server", in.GetServer()}}}
			if m.phase == phaseRegistered && !m.leading {
				m.leading = true // contend again: the leader finds its node of this session and keeps its place
				effects = append(effects, StartLeader{Epoch: m.epoch})
			}
			return append(effects, m.publish())
		}
	case v1.ZkState_ZK_STATE_DISCONNECTED:
		if !m.online {
			return nil
		}
		m.online = false
		if m.phase == phaseRegistering || m.phase == phaseRegistered {
			return []Effect{
				Log{Level: slog.LevelWarn, Msg: "disconnected from ZooKeeper: keeping the session while the client reconnects"},
				StartTimer{Name: timerSuspend, Epoch: m.epoch, After: m.cfg.SuspendAfter},
				m.publish(),
			}
		}
	case v1.ZkState_ZK_STATE_EXPIRED:
		if m.phase == phaseStopping || m.phase == phaseStopped {
			return nil
		}
		return m.restart(slog.LevelWarn, "session expired: registering again", false)
	case v1.ZkState_ZK_STATE_CLOSED:
		if m.phase == phaseStopping || m.phase == phaseStopped {
			return nil
		}
		m.conn = false
		return m.restart(slog.LevelWarn, "ZooKeeper client closed unexpectedly", true)
	case v1.ZkState_ZK_STATE_FAILED:
		m.conn = false
		return m.restart(slog.LevelError, "cannot dial ZooKeeper: "+in.GetFailure().GetMessage(), true)
	}
	return nil
}

func (m *Machine) onRegistered(in *v1.RegisterDone) []Effect {
	if in.GetFailure() != nil {
		var effects []Effect
		if in.GetHasSeq() && !m.hasSeq {
			// The node was created before the failure: its sequence is our seq, and the next registration
			// carries it, so the seq never changes (peers may have seen it already).
			m.seq, m.hasSeq = in.GetSeq(), true
			effects = append(effects, ReportSeq{Key: m.key, Seq: m.seq})
		}
		return append(effects, m.restart(slog.LevelError, "registration failed: "+in.GetFailure().GetMessage(), true)...)
	}
	m.phase = phaseRegistered
	m.failures = 0
	m.path = in.GetPath()
	effects := []Effect{}
	if !m.hasSeq {
		m.seq, m.hasSeq = in.GetSeq(), true
		effects = append(effects, ReportSeq{Key: m.key, Seq: m.seq})
	}
	m.leading = true
	return append(effects,
		Log{Level: slog.LevelInfo, Msg: "registered", Args: []any{"path", m.path, "seq", m.seq}},
		StartLeader{Epoch: m.epoch},
		m.publish(),
	)
}

func (m *Machine) onTimer(in *v1.TimerFired) []Effect {
	switch {
	case in.GetTimer() == timerConnect && m.phase == phaseConnecting:
		why := fmt.Sprintf("no ZooKeeper session after %s", m.cfg.ConnectTimeout)
		if m.cause != "" {
			why += " (last error: " + m.cause + ")"
		}
		return m.restart(slog.LevelWarn, why, true)
	case in.GetTimer() == timerRedial && m.phase == phaseBackoff:
		return m.dial()
	case in.GetTimer() == timerSuspend && m.phase == phaseRegistered && !m.online && m.leading:
		// Kazoo's SUSPENDED: while we cannot reach ZooKeeper, another pod may hold the lock by now. Step down
		// until the client reconnects (same session: contend again) or learns of the expiry (register again).
		effects := []Effect{Log{Level: slog.LevelWarn, Msg: fmt.Sprintf("disconnected for %s: stepping down until ZooKeeper is back", m.cfg.SuspendAfter)}}
		return append(append(effects, m.dropLeader()...), m.publish())
	}
	return nil
}

func (m *Machine) onLeadership(in *v1.LeadershipChanged) []Effect {
	if !m.leading {
		return nil // a leader we already stopped
	}
	role, lock := v1.Role_ROLE_FOLLOWER, ""
	if in.GetLeader() {
		role, lock = v1.Role_ROLE_LEADER, in.GetLockPath()
	}
	if role == m.role && lock == m.lockPath {
		return nil
	}
	m.role, m.lockPath = role, lock
	return []Effect{Log{Level: slog.LevelInfo, Msg: "role changed", Args: []any{"role", roleName(role), "lock", lock}}, m.publish()}
}

func (m *Machine) onReset(in *v1.ResetSession) []Effect {
	switch m.phase {
	case phaseConnecting, phaseRegistering, phaseRegistered, phaseBackoff:
		cause := in.GetCause()
		if cause == "" {
			cause = "requested"
		}
		m.failures = 0
		return m.restart(slog.LevelWarn, "reset: "+cause, false)
	}
	return nil
}

func (m *Machine) onStop() []Effect {
	switch m.phase {
	case phaseStopping:
		return nil
	case phaseStopped:
		return []Effect{Stopped{}}
	}
	effects := m.dropLeader()
	if m.conn {
		// Delete the pod's node first so peers see it leave now, then close (which removes every ephemeral).
		m.phase = phaseStopping
		m.online = false
		return append(effects, Deregister{Epoch: m.epoch, Path: m.path}, m.publish())
	}
	m.phase = phaseStopped
	return append(effects, m.publish(), Stopped{})
}

// restart gives the current client up and dials again: at once after an expiry or a reset, after a backoff
// when the attempt failed. The key and seq are kept.
func (m *Machine) restart(level slog.Level, why string, failed bool) []Effect {
	effects := []Effect{Log{Level: level, Msg: why, Args: []any{"epoch", m.epoch}}}
	effects = append(effects, m.dropLeader()...)
	if m.conn {
		effects = append(effects, Close{Epoch: m.epoch})
		m.conn = false
	}
	m.online = false
	m.path = ""
	if !failed {
		return append(append(effects, m.dial()...), m.publish())
	}
	m.failures++
	delay := m.cfg.Backoff.Delay(m.failures)
	m.epoch++ // the backoff timer belongs to the next attempt
	m.phase = phaseBackoff
	return append(effects,
		Log{Level: slog.LevelInfo, Msg: "retrying ZooKeeper", Args: []any{"attempt", m.failures, "in", delay}},
		StartTimer{Name: timerRedial, Epoch: m.epoch, After: delay},
		m.publish(),
	)
}

func (m *Machine) dropLeader() []Effect {
	m.role, m.lockPath = v1.Role_ROLE_FOLLOWER, ""
	if !m.leading {
		return nil
	}
	m.leading = false
	return []Effect{StopLeader{}}
}

func (m *Machine) publish() Effect { return Publish{Status: m.Status()} }

func roleName(r v1.Role) string {
	if r == v1.Role_ROLE_LEADER {
		return "leader"
	}
	return "follower"
}
