package leader

import (
	"log/slog"
	"path"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/zk"
)

const timerRetry = v1.Timer_TIMER_RETRY

type phase int

const (
	phaseIdle     phase = iota
	phaseEnsuring       // finding or creating our contender node
	phaseListing        // reading coordinator/
	phaseWaiting        // watching our predecessor
	phaseLeading        // we hold the lock; the worker runs
	phaseBackoff        // an operation failed: retrying after a delay
)

// MachineConfig holds the lock's settings.
type MachineConfig struct {
	Coordinator string // the lock's directory, coordinator/ of the cluster
	Backoff     backoff.Policy
	// FirstGeneration is where generations start: a restarted actor starts past its previous instance's, so
	// that instance's late answers and watches are dropped.
	FirstGeneration uint64
}

// Machine is the leader lock's pure state machine: the Kazoo Lock recipe (lowest sequence holds the lock,
// each contender watches only its predecessor) written as inputs and effects. Every operation and watch
// carries the generation it was issued under; a new attempt starts a new generation, so late answers and
// watches of an abandoned attempt are dropped.
//
// It also tells where our contender stands in line (Position) each time that changes. A contender learns
// that it is next when its predecessor goes (it lists the line again) or wins the lock: a new leader touches
// its node (Touch), which fires its successor's watch.
//
//	idle ─Start→ ensuring ─ready→ listing ─first→ leading ─own node gone→ ensuring
//	                          │        └─not first→ waiting ─predecessor changed→ listing
//	                          └─ any failure → backoff ─timer→ ensuring
type Machine struct {
	cfg      MachineConfig
	warned   map[string]bool // the foreign nodes of the lock directory logged already
	phase    phase
	gen      uint64
	failures int
	own      string   // our contender's name under coordinator/
	watched  string   // the node our current watch is on
	line     Position // our place in line as last told (Position)
}

// NewMachine returns an idle lock machine.
func NewMachine(cfg MachineConfig) *Machine { return &Machine{cfg: cfg, gen: cfg.FirstGeneration} }

// Leading reports whether the machine holds the lock.
func (m *Machine) Leading() bool { return m.phase == phaseLeading }

// LockPath is the held lock node (the fencing token), "" when not leading.
func (m *Machine) LockPath() string {
	if m.phase != phaseLeading {
		return ""
	}
	return path.Join(m.cfg.Coordinator, m.own)
}

// InLine is our place in the lock's line as last told: what the root must be told is over when the actor
// stops.
func (m *Machine) InLine() Position { return m.line }

// Start begins contending.
func (m *Machine) Start() []Effect {
	if m.phase != phaseIdle {
		return nil
	}
	return m.ensure()
}

// Stop gives the lock up: the worker stops. The node itself goes with the session, or is reused by a
// restarted leader of the same session.
func (m *Machine) Stop() []Effect {
	effects := append(m.stepDown(), m.place(Position{})...)
	m.phase = phaseIdle
	m.gen++
	return effects
}

// Handle feeds one input to the machine.
func (m *Machine) Handle(in *v1.LeaderInput) []Effect {
	switch in := protocol.Unwrap(in).(type) {
	case *v1.ContenderReady:
		if in.GetGeneration() != m.gen || m.phase != phaseEnsuring {
			return nil
		}
		if in.GetFailure() != nil {
			return m.fail("cannot create the lock contender: " + in.GetFailure().GetMessage())
		}
		m.own = path.Base(in.GetPath())
		return m.list()
	case *v1.ContendersListed:
		if in.GetGeneration() != m.gen || m.phase != phaseListing {
			return nil
		}
		if in.GetFailure() != nil {
			return m.fail("cannot list the lock contenders: " + in.GetFailure().GetMessage())
		}
		return m.onListed(in.GetChildren())
	case *v1.NodeWatched:
		if in.GetGeneration() != m.gen || in.GetPath() != m.watched {
			return nil
		}
		if in.GetFailure() != nil {
			return m.fail("cannot watch " + in.GetPath() + ": " + in.GetFailure().GetMessage())
		}
		if !in.GetExists() {
			return m.onGone(in.GetPath())
		}
		return nil
	case *v1.NodeChanged:
		if in.GetGeneration() != m.gen || in.GetPath() != m.watched {
			return nil
		}
		return m.onChanged(in)
	case *v1.TimerFired:
		if in.GetTimer() == timerRetry && in.GetEpoch() == m.gen && m.phase == phaseBackoff {
			return m.ensure()
		}
	}
	return nil
}

func (m *Machine) ensure() []Effect {
	m.gen++
	m.phase = phaseEnsuring
	m.watched = ""
	return append(m.place(Position{}), EnsureContender{Generation: m.gen}) // a new node goes to the end of the line
}

// place tells where we stand in line when it changed.
func (m *Machine) place(p Position) []Effect {
	if p == m.line {
		return nil
	}
	m.line = p
	return []Effect{p}
}

func (m *Machine) list() []Effect {
	m.phase = phaseListing
	m.watched = ""
	return []Effect{ListContenders{Generation: m.gen}}
}

func (m *Machine) onListed(children []string) []Effect {
	contenders, foreign := zk.SortContenders(children)
	var effects []Effect
	if fresh := m.unwarned(foreign); len(fresh) > 0 { // once per node (DESIGN §12)
		effects = append(effects, Log{Level: slog.LevelWarn, Msg: "ignoring nodes of the lock directory that are not contenders (<hex id>__lock__<10 digits>)", Args: []any{"nodes", fresh}})
	}
	idx, ownID := -1, ""
	if c, err := zk.ParseContender(m.own); err == nil {
		ownID = c.ID
	}
	for i, c := range contenders {
		if c.Name == m.own {
			idx = i
			break
		}
		if c.ID == ownID {
			// Another node of ours ahead of our own (a previous incarnation created it while we created ours):
			// we would wait on ourselves for ever. Ensure again: it keeps one node of this session, deletes the rest.
			effects = append(effects, Log{Level: slog.LevelWarn, Msg: "two lock contenders of this pod: keeping one", Args: []any{"nodes", []string{c.Name, m.own}}})
			return append(effects, m.ensure()...)
		}
	}
	switch {
	case idx < 0:
		// Someone deleted our node (an operator, or the end of an older session): take a new place in line.
		effects = append(effects, Log{Level: slog.LevelWarn, Msg: "our lock contender vanished: contending again", Args: []any{"node", m.own}})
		return append(effects, m.ensure()...)
	case idx == 0:
		m.phase = phaseLeading
		m.failures = 0
		m.watched = path.Join(m.cfg.Coordinator, m.own)
		effects = append(effects,
			Log{Level: slog.LevelInfo, Msg: "acquired the leader lock", Args: []any{"lock", m.watched}},
			Announce{Leader: true, LockPath: m.watched, Generation: m.gen},
		)
		return append(append(effects, m.place(Position{Leading: true})...),
			StartWorker{LockPath: m.watched, Generation: m.gen},
			Watch{Generation: m.gen, Path: m.watched},
			Touch{Generation: m.gen, Path: m.watched}, // the pod behind us is next now: it learns it so
		)
	default:
		m.phase = phaseWaiting
		m.failures = 0
		m.watched = path.Join(m.cfg.Coordinator, contenders[idx-1].Name)
		// Next in line: our predecessor holds the lock (DESIGN §12 "kept connections").
		effects = append(effects, m.place(Position{Next: idx == 1})...)
		return append(effects,
			Log{Level: slog.LevelDebug, Msg: "waiting for the lock", Args: []any{"position", idx, "predecessor", m.watched}},
			Watch{Generation: m.gen, Path: m.watched},
		)
	}
}

// onGone: the watched node does not exist (any more).
func (m *Machine) onGone(p string) []Effect {
	if m.phase == phaseLeading {
		effects := append(m.stepDown(), Log{Level: slog.LevelWarn, Msg: "our lock node is gone: stepping down", Args: []any{"lock", p}})
		return append(effects, m.ensure()...)
	}
	return m.list()
}

func (m *Machine) onChanged(in *v1.NodeChanged) []Effect {
	switch in.GetEvent() {
	case v1.ZkEvent_ZK_EVENT_NODE_DELETED:
		return m.onGone(in.GetPath())
	case v1.ZkEvent_ZK_EVENT_NOT_WATCHING:
		// The session is ending; the session actor stops us. Until then, hold nothing we cannot prove.
		return m.fail("watch lost: " + in.GetPath())
	}
	if in.GetEvent() == v1.ZkEvent_ZK_EVENT_NODE_DATA_CHANGED && m.phase == phaseWaiting {
		// Our predecessor touched its node: it won the lock, and we are next (Touch). Look again.
		return m.list()
	}
	// Any other change: the node is still there; watch it again (level-triggered: look, do not assume).
	return []Effect{Watch{Generation: m.gen, Path: m.watched}}
}

func (m *Machine) fail(why string) []Effect {
	effects := append(m.stepDown(), m.place(Position{})...)
	m.failures++
	m.gen++ // drop whatever the failed attempt still has in flight
	m.phase = phaseBackoff
	m.watched = ""
	delay := m.cfg.Backoff.Delay(m.failures)
	return append(effects,
		Log{Level: slog.LevelWarn, Msg: why, Args: []any{"retry_in", delay}},
		StartTimer{Name: timerRetry, Generation: m.gen, After: delay},
	)
}

func (m *Machine) stepDown() []Effect {
	if m.phase != phaseLeading {
		return nil
	}
	lock := path.Join(m.cfg.Coordinator, m.own)
	m.phase = phaseIdle
	return []Effect{
		StopWorker{},
		Announce{Leader: false, LockPath: lock, Generation: m.gen},
		Log{Level: slog.LevelInfo, Msg: "released the leader lock", Args: []any{"lock", lock}},
	}
}
