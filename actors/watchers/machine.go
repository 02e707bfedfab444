package watchers

import (
	"log/slog"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Target kinds (WatchTarget.kind).
const (
	KindPods     = "pods"
	KindSnapshot = "snapshot"
	KindClusters = "clusters"
	KindPod      = "pod" // a pod node still registering: watched as a snapshot is
)

// Events the watchers report besides ZooKeeper's own (zk.EventType's strings); see the package doc.
const (
	EventArmed   = "armed"
	EventRearmed = "rearmed"
	EventFailed  = "watch-failed"
)

// timerRearm names the retry timer of a target whose watch failed or was lost.
const timerRearm = "rearm"

type state int

const (
	stateArming  state = iota // a *W call is in flight
	stateArmed                // a watch is set: waiting for its event
	stateBackoff              // the call failed or the watch was lost: the retry timer runs
)

// target is one watched thing and where its watch stands.
type target struct {
	kind, path string
	state      state
	call       Call
	gen        uint64 // generation of the arm, event or timer this target waits for
	failures   int    // consecutive failures, for the backoff
	report     string // event to tell the parent once the watch is set again; "" none
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
func (m *Machine) Handle(in any) []Effect {
	switch in := in.(type) {
	case *v1.WatchSet:
		return m.onSet(in)
	case *v1.NodeWatched:
		return m.onWatched(in)
	case *v1.NodeChanged:
		return m.onChanged(in)
	case *v1.TimerFired:
		if in.GetName() != timerRearm {
			return nil
		}
		t := m.byGen(in.GetEpoch())
		if t == nil || t.state != stateBackoff {
			return nil
		}
		return m.arm(t, firstCall(t.kind, ""))
	}
	return nil
}

// Watching lists the targets as "kind path", in order, for tests and logs.
func (m *Machine) Watching() []string {
	out := make([]string, 0, len(m.targets))
	for _, t := range m.targets {
		out = append(out, t.kind+" "+t.path)
	}
	return out
}

func (m *Machine) onSet(set *v1.WatchSet) []Effect {
	var effects []Effect
	next := make([]*target, 0, len(set.GetTargets()))
	seen := map[[2]string]bool{}
	for _, wt := range set.GetTargets() {
		kind, p := wt.GetKind(), wt.GetPath()
		if kind == KindClusters && p == "" {
			p = zk.Root
		}
		if kind != KindPods && !watchesData(kind) && kind != KindClusters {
			effects = append(effects, Log{Level: slog.LevelWarn, Msg: "ignoring a watch target of unknown kind", Args: []any{"kind", kind, "path", p}})
			continue
		}
		if err := zk.ValidatePath(p); err != nil {
			effects = append(effects, Log{Level: slog.LevelWarn, Msg: "ignoring a watch target with a bad path", Args: []any{"kind", kind, "path", p, "err", err}})
			continue
		}
		if seen[[2]string{kind, p}] {
			continue
		}
		seen[[2]string{kind, p}] = true
		if t := m.find(kind, p); t != nil {
			next = append(next, t) // still wanted: its watch stays as it is
			continue
		}
		t := &target{kind: kind, path: p, report: EventArmed}
		next = append(next, t)
		effects = append(effects, m.arm(t, firstCall(kind, ""))...)
	}
	for _, t := range m.targets {
		if !seen[[2]string{t.kind, t.path}] {
			effects = append(effects, Log{Level: slog.LevelDebug, Msg: "dropping a watch target", Args: []any{"kind", t.kind, "path", t.path}})
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
	case in.GetError() != "":
		return m.fail(t, EventFailed, "cannot set a watch: "+in.GetError())
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
	if t.report == "" {
		return nil
	}
	ev := t.report
	t.report = ""
	return []Effect{Notify{Kind: t.kind, Path: t.path, Event: ev}}
}

func (m *Machine) onChanged(in *v1.NodeChanged) []Effect {
	t := m.byGen(in.GetGeneration())
	if t == nil || t.state != stateArmed || t.path != in.GetPath() {
		return m.stale("watch event "+in.GetEvent(), in.GetPath(), in.GetGeneration())
	}
	if in.GetEvent() == zk.EventNotWatching.String() {
		return m.fail(t, in.GetEvent(), "watch lost")
	}
	// Set the watch again first, report once it is set (see the package doc: re-arm first, report second).
	t.report = in.GetEvent()
	return m.arm(t, firstCall(t.kind, in.GetEvent()))
}

// arm starts a new attempt on t under a new generation.
func (m *Machine) arm(t *target, call Call) []Effect {
	m.gen++
	t.gen, t.state, t.call = m.gen, stateArming, call
	return []Effect{Arm{Generation: t.gen, Path: t.path, Call: call}}
}

// fail reports event to the parent at once (look again: something may have changed while no watch was set)
// and retries after a backoff. The timer is started before the report, so that when the parent hears of it
// the retry is already scheduled on the clock.
func (m *Machine) fail(t *target, event, why string) []Effect {
	t.failures++
	m.gen++
	t.gen, t.state = m.gen, stateBackoff
	t.report = EventRearmed
	delay := m.cfg.Backoff.Delay(t.failures)
	return []Effect{
		Log{Level: slog.LevelWarn, Msg: why, Args: []any{"kind", t.kind, "path", t.path, "retry_in", delay, "failures", t.failures}},
		StartTimer{Name: timerRearm, Generation: t.gen, After: delay},
		Notify{Kind: t.kind, Path: t.path, Event: event},
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

func (m *Machine) find(kind, p string) *target {
	for _, t := range m.targets {
		if t.kind == kind && t.path == p {
			return t
		}
	}
	return nil
}

// firstCall is the call that (re-)arms a target of kind after event ("" for a first arm or a retry). A
// deleted pods/ or cluster list cannot be listed: watch for its return straight away.
func firstCall(kind, event string) Call {
	if watchesData(kind) || event == zk.EventNodeDeleted.String() {
		return CallExists
	}
	return CallChildren
}

// watchesData tells the kinds watched with ExistsW on the node itself (its data, or its creation).
func watchesData(kind string) bool { return kind == KindSnapshot || kind == KindPod }
