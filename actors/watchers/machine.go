package watchers

import (
	"log/slog"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Target kinds (WatchTarget.kind).
const (
	KindPods     = v1.WatchKind_WATCH_KIND_PODS
	KindSnapshot = v1.WatchKind_WATCH_KIND_SNAPSHOT
	KindClusters = v1.WatchKind_WATCH_KIND_CLUSTERS
	KindPod      = v1.WatchKind_WATCH_KIND_POD    // a pod node still registering: watched as a snapshot is
	KindPaused   = v1.WatchKind_WATCH_KIND_PAUSED // the cluster's paused node (DESIGN §13): its creation and deletion
)

// What the watchers report (Changed.kind); see the package doc.
const (
	ChangeFired   = v1.ChangeKind_CHANGE_KIND_FIRED
	ChangeArmed   = v1.ChangeKind_CHANGE_KIND_ARMED
	ChangeRearmed = v1.ChangeKind_CHANGE_KIND_REARMED
	ChangeFailed  = v1.ChangeKind_CHANGE_KIND_FAILED
	ChangeLost    = v1.ChangeKind_CHANGE_KIND_LOST
)

// timerRearm names the retry timer of a target whose watch failed or was lost.
const timerRearm = v1.Timer_TIMER_REARM

type state int

const (
	stateArming  state = iota // a *W call is in flight
	stateArmed                // a watch is set: waiting for its event
	stateBackoff              // the call failed or the watch was lost: the retry timer runs
)

// target is one watched thing and where its watch stands.
type target struct {
	kind     v1.WatchKind
	path     string
	state    state
	call     Call
	gen      uint64 // generation of the arm, event or timer this target waits for
	failures int    // consecutive failures, for the backoff
	// What to tell the parent once the watch is set again (unspecified: nothing), and the event it fired with.
	report v1.ChangeKind
	event  v1.ZkEvent
}

// MachineConfig holds the watchers' settings.
type MachineConfig struct {
	Backoff backoff.Policy // delay between attempts to set a watch that failed or was lost
	// FirstGeneration is the last generation an earlier incarnation handed out (0 for the first): a
	// restarted actor starts after it, so the reports of the watches its predecessor left behind are stale.
	FirstGeneration uint64
}

// Machine is the watchers' pure state machine (see the package doc for the states of a target). It keeps the
// targets in the order the last WatchSet gave them, so its effects are deterministic.
type Machine struct {
	cfg     MachineConfig
	gen     uint64 // last generation handed out, to an arm or a retry timer
	targets []*target
}

// NewMachine returns a machine that watches nothing.
func NewMachine(cfg MachineConfig) *Machine { return &Machine{cfg: cfg, gen: cfg.FirstGeneration} }

// Generation is the last generation handed out.
func (m *Machine) Generation() uint64 { return m.gen }

// Handle feeds one input to the machine: *v1.WatchSet from the parent, *v1.NodeWatched, *v1.NodeChanged and
// *v1.TimerFired from the adapter. Anything else is ignored.
func (m *Machine) Handle(in *v1.WatchersInput) []Effect {
	switch in := protocol.Unwrap(in).(type) {
	case *v1.WatchSet:
		return m.onSet(in)
	case *v1.NodeWatched:
		return m.onWatched(in)
	case *v1.NodeChanged:
		return m.onChanged(in)
	case *v1.TimerFired:
		if in.GetTimer() != timerRearm {
			return nil
		}
		t := m.byGen(in.GetEpoch())
		if t == nil || t.state != stateBackoff {
			return nil
		}
		return m.arm(t, firstCall(t.kind, 0))
	}
	return nil
}

// Watching lists the targets as "kind path", in order, for tests and logs.
func (m *Machine) Watching() []string {
	out := make([]string, 0, len(m.targets))
	for _, t := range m.targets {
		out = append(out, protocol.Name(t.kind)+" "+t.path)
	}
	return out
}

func (m *Machine) onSet(set *v1.WatchSet) []Effect {
	var effects []Effect
	next := make([]*target, 0, len(set.GetTargets()))
	type key struct {
		kind v1.WatchKind
		path string
	}
	seen := map[key]bool{}
	for _, wt := range set.GetTargets() {
		kind, p := wt.GetKind(), wt.GetPath()
		if kind == KindClusters && p == "" {
			p = zk.Root
		}
		if kind != KindPods && !watchesData(kind) && kind != KindClusters {
			effects = append(effects, Log{Level: slog.LevelWarn, Msg: "ignoring a watch target of unknown kind", Args: []any{"kind", protocol.Name(kind), "path", p}})
			continue
		}
		if err := zk.ValidatePath(p); err != nil {
			effects = append(effects, Log{Level: slog.LevelWarn, Msg: "ignoring a watch target with a bad path", Args: []any{"kind", protocol.Name(kind), "path", p, "err", err}})
			continue
		}
		if seen[key{kind, p}] {
			continue
		}
		seen[key{kind, p}] = true
		if t := m.find(kind, p); t != nil {
			next = append(next, t) // still wanted: its watch stays as it is
			continue
		}
		t := &target{kind: kind, path: p, report: ChangeArmed}
		next = append(next, t)
		effects = append(effects, m.arm(t, firstCall(kind, 0))...)
	}
	for _, t := range m.targets {
		if !seen[key{t.kind, t.path}] {
			effects = append(effects, Log{Level: slog.LevelDebug, Msg: "dropping a watch target", Args: []any{"kind", protocol.Name(t.kind), "path", t.path}})
		}
	}
	m.targets = next
	return effects
}

func (m *Machine) onWatched(in *v1.NodeWatched) []Effect {
	t := m.byGen(in.GetGeneration())
	if t == nil || t.state != stateArming || t.path != in.GetPath() {
		return m.stale("watch set", in.GetPath(), in.GetGeneration())
	}
	switch {
	case in.GetFailure() != nil:
		return m.fail(t, ChangeFailed, 0, "cannot set a watch: "+in.GetFailure().GetMessage())
	case t.call == CallChildren && !in.GetExists():
		// The node is missing (a cluster nobody registered in yet): wait for it to appear.
		return m.arm(t, CallExists)
	case t.call == CallExists && in.GetExists() && !watchesData(t.kind):
		// It appeared between the two calls: its children are what we watch. The exists watch just set
		// stays with the server until it fires; its event is stale by then.
		return m.arm(t, CallChildren)
	}
	t.state = stateArmed
	t.failures = 0
	if t.report == 0 {
		return nil
	}
	change, ev := t.report, t.event
	t.report, t.event = 0, 0
	return []Effect{Notify{Kind: t.kind, Path: t.path, Change: change, Event: ev}}
}

func (m *Machine) onChanged(in *v1.NodeChanged) []Effect {
	t := m.byGen(in.GetGeneration())
	if t == nil || t.state != stateArmed || t.path != in.GetPath() {
		return m.stale("watch event "+protocol.Name(in.GetEvent()), in.GetPath(), in.GetGeneration())
	}
	if in.GetEvent() == v1.ZkEvent_ZK_EVENT_NOT_WATCHING {
		return m.fail(t, ChangeLost, in.GetEvent(), "watch lost")
	}
	// Set the watch again first, report once it is set (see the package doc: re-arm first, report second).
	t.report, t.event = ChangeFired, in.GetEvent()
	return m.arm(t, firstCall(t.kind, in.GetEvent()))
}

// arm starts a new attempt on t under a new generation.
func (m *Machine) arm(t *target, call Call) []Effect {
	m.gen++
	t.gen, t.state, t.call = m.gen, stateArming, call
	return []Effect{Arm{Generation: t.gen, Path: t.path, Call: call}}
}

// fail reports change (and the event, if any) to the parent at once (look again: something may have changed while no watch was set)
// and retries after a backoff. The timer is started before the report, so that when the parent hears of it
// the retry is already scheduled on the clock.
func (m *Machine) fail(t *target, change v1.ChangeKind, event v1.ZkEvent, why string) []Effect {
	t.failures++
	m.gen++
	t.gen, t.state = m.gen, stateBackoff
	t.report, t.event = ChangeRearmed, 0
	delay := m.cfg.Backoff.Delay(t.failures)
	return []Effect{
		Log{Level: slog.LevelWarn, Msg: why, Args: []any{"kind", protocol.Name(t.kind), "path", t.path, "retry_in", delay, "failures", t.failures}},
		StartTimer{Name: timerRearm, Generation: t.gen, After: delay},
		Notify{Kind: t.kind, Path: t.path, Change: change, Event: event},
	}
}

func (m *Machine) stale(what, p string, gen uint64) []Effect {
	return []Effect{Log{Level: slog.LevelDebug, Msg: "ignoring a stale " + what, Args: []any{"path", p, "epoch", gen}}}
}

func (m *Machine) byGen(gen uint64) *target {
	for _, t := range m.targets {
		if t.gen == gen {
			return t
		}
	}
	return nil
}

func (m *Machine) find(kind v1.WatchKind, p string) *target {
	for _, t := range m.targets {
		if t.kind == kind && t.path == p {
			return t
		}
	}
	return nil
}

// firstCall is the call that (re-)arms a target of kind after event (none for a first arm or a retry). A
// deleted pods/ or cluster list cannot be listed: watch for its return straight away.
func firstCall(kind v1.WatchKind, event v1.ZkEvent) Call {
	if watchesData(kind) || event == v1.ZkEvent_ZK_EVENT_NODE_DELETED {
		return CallExists
	}
	return CallChildren
}

// watchesData tells the kinds watched with ExistsW on the node itself (its data, or its creation).
func watchesData(kind v1.WatchKind) bool {
	return kind == KindSnapshot || kind == KindPod || kind == KindPaused
}
