package watchers

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/zk"
)

const (
	pods  = "/ochopod/clusters/ns.web/pods"
	snap  = "/ochopod/clusters/ns.db/snapshot"
	other = "/ochopod/clusters/ns.cache/snapshot"
)

func newTestMachine() *Machine {
	return NewMachine(MachineConfig{Backoff: backoff.Policy{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond}})
}

// set is a WatchSet of (kind, path) pairs.
func set(targets ...any) *v1.WatchSet {
	s := &v1.WatchSet{}
	for i := 0; i+1 < len(targets); i += 2 {
		s.Targets = append(s.Targets, &v1.WatchTarget{Kind: targets[i].(v1.WatchKind), Path: targets[i+1].(string)})
	}
	return s
}

// short names a path in effects: its last two segments.
func short(p string) string {
	switch p {
	case pods:
		return "web/pods"
	case snap:
		return "db/snapshot"
	case other:
		return "cache/snapshot"
	}
	return p
}

// kinds renders effects, leaving logs out but for stale ones (the actor tests wait on those).
func kinds(effects []Effect) []string {
	var out []string
	for _, e := range effects {
		switch e := e.(type) {
		case Log:
		case Arm:
			out = append(out, fmt.Sprintf("arm#%d %s(%s)", e.Generation, e.Call, short(e.Path)))
		case Notify:
			out = append(out, "notify "+Describe(Notify{Kind: e.Kind, Path: short(e.Path), Change: e.Change, Event: e.Event}.Message()))
		case StartTimer:
			out = append(out, fmt.Sprintf("timer#%d %s %s", e.Generation, protocol.Name(e.Name), e.After))
		}
	}
	return out
}

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

func watched(gen uint64, p string, exists bool) *v1.NodeWatched {
	return &v1.NodeWatched{Generation: gen, Path: p, Exists: exists}
}

func failed(gen uint64, p string) *v1.NodeWatched {
	return &v1.NodeWatched{Generation: gen, Path: p, Failure: protocol.Other("zk: connection lost")}
}

func changed(gen uint64, p string, ev zk.EventType) *v1.NodeChanged {
	return &v1.NodeChanged{Generation: gen, Path: p, Event: protocol.Event(zk.WatchEvent{Type: ev}, true)}
}

func TestWatchers_NewTargetsAreArmedThenReported(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{set(KindPods, pods, KindSnapshot, snap, KindClusters, ""), []string{
			"arm#1 children(web/pods)", "arm#2 exists(db/snapshot)", "arm#3 children(" + zk.Root + ")"}},
		// "armed" goes out only once the watch is set: the parent's read then comes after it.
		{watched(2, snap, false), []string{"notify snapshot db/snapshot armed"}},
		{watched(1, pods, true), []string{"notify pods web/pods armed"}},
		{watched(3, zk.Root, true), []string{"notify clusters " + zk.Root + " armed"}},
	})
	if got := m.Watching(); !reflect.DeepEqual(got, []string{"pods " + pods, "snapshot " + snap, "clusters " + zk.Root}) {
		t.Fatalf("watching %q", got)
	}
}

func TestWatchers_FiredWatchIsRearmedBeforeItIsReported(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{set(KindPods, pods), []string{"arm#1 children(web/pods)"}},
		{watched(1, pods, true), []string{"notify pods web/pods armed"}},
		{changed(1, pods, zk.EventNodeChildrenChanged), []string{"arm#2 children(web/pods)"}},
		{watched(2, pods, true), []string{"notify pods web/pods node_children_changed"}},
		{changed(2, pods, zk.EventNodeChildrenChanged), []string{"arm#3 children(web/pods)"}},
		{watched(3, pods, true), []string{"notify pods web/pods node_children_changed"}},
	})
}

func TestWatchers_MissingPodsNodeIsWatchedUntilItAppears(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{set(KindPods, pods), []string{"arm#1 children(web/pods)"}},
		{watched(1, pods, false), []string{"arm#2 exists(web/pods)"}}, // no node: no watch, wait for it
		{watched(2, pods, false), []string{"notify pods web/pods armed"}},
		{changed(2, pods, zk.EventNodeCreated), []string{"arm#3 children(web/pods)"}},
		{watched(3, pods, true), []string{"notify pods web/pods node_created"}},
		// The node goes: watch for its return straight away.
		{changed(3, pods, zk.EventNodeDeleted), []string{"arm#4 exists(web/pods)"}},
		{watched(4, pods, false), []string{"notify pods web/pods node_deleted"}},
	})
}

func TestWatchers_PodsNodeAppearingBetweenTheCallsIsListed(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{set(KindPods, pods), []string{"arm#1 children(web/pods)"}},
		{watched(1, pods, false), []string{"arm#2 exists(web/pods)"}},
		{watched(2, pods, true), []string{"arm#3 children(web/pods)"}},
		{watched(3, pods, true), []string{"notify pods web/pods armed"}},
		// The exists watch left behind fires later: stale.
		{changed(2, pods, zk.EventNodeDataChanged), nil},
	})
}

func TestWatchers_SnapshotReportsCreateChangeAndDelete(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{set(KindSnapshot, snap), []string{"arm#1 exists(db/snapshot)"}},
		{watched(1, snap, false), []string{"notify snapshot db/snapshot armed"}},
		{changed(1, snap, zk.EventNodeCreated), []string{"arm#2 exists(db/snapshot)"}},
		{watched(2, snap, true), []string{"notify snapshot db/snapshot node_created"}},
		{changed(2, snap, zk.EventNodeDataChanged), []string{"arm#3 exists(db/snapshot)"}},
		{watched(3, snap, true), []string{"notify snapshot db/snapshot node_data_changed"}},
		{changed(3, snap, zk.EventNodeDeleted), []string{"arm#4 exists(db/snapshot)"}},
		{watched(4, snap, false), []string{"notify snapshot db/snapshot node_deleted"}},
	})
}

func TestWatchers_ReplacedSetIgnoresDroppedTargets(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{set(KindPods, pods, KindSnapshot, snap), []string{"arm#1 children(web/pods)", "arm#2 exists(db/snapshot)"}},
		{watched(1, pods, true), []string{"notify pods web/pods armed"}},
		{watched(2, snap, true), []string{"notify snapshot db/snapshot armed"}},
		// snap goes, other comes; pods keeps its watch (no new arm).
		{set(KindPods, pods, KindSnapshot, other), []string{"arm#3 exists(cache/snapshot)"}},
		{changed(2, snap, zk.EventNodeDataChanged), nil},
		{watched(3, other, true), []string{"notify snapshot cache/snapshot armed"}},
		{changed(1, pods, zk.EventNodeChildrenChanged), []string{"arm#4 children(web/pods)"}},
		// snap comes back: a new generation, the old watch's events stay stale.
		{set(KindPods, pods, KindSnapshot, other, KindSnapshot, snap), []string{"arm#5 exists(db/snapshot)"}},
		{changed(2, snap, zk.EventNodeDeleted), nil},
		{watched(5, snap, true), []string{"notify snapshot db/snapshot armed"}},
		{watched(4, pods, true), []string{"notify pods web/pods node_children_changed"}},
		// An empty set drops everything.
		{set(), nil},
		{changed(5, snap, zk.EventNodeDeleted), nil},
	})
	if got := m.Watching(); len(got) != 0 {
		t.Fatalf("watching %q after an empty set", got)
	}
}

func TestWatchers_FailedWatchIsReportedAndRetriedWithBackoff(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{set(KindPods, pods), []string{"arm#1 children(web/pods)"}},
		// Report at once (look again), timer first so it is scheduled when the parent hears of it.
		{failed(1, pods), []string{"timer#2 rearm 100ms", "notify pods web/pods failed"}},
		{&v1.TimerFired{Timer: timerRearm, Epoch: 1}, nil},           // stale epoch
		{&v1.TimerFired{Timer: v1.Timer_TIMER_PROBE, Epoch: 2}, nil}, // not ours
		{&v1.TimerFired{Timer: timerRearm, Epoch: 2}, []string{"arm#3 children(web/pods)"}},
		{failed(3, pods), []string{"timer#4 rearm 200ms", "notify pods web/pods failed"}},
		{&v1.TimerFired{Timer: timerRearm, Epoch: 4}, []string{"arm#5 children(web/pods)"}},
		{failed(5, pods), []string{"timer#6 rearm 400ms", "notify pods web/pods failed"}},
		{&v1.TimerFired{Timer: timerRearm, Epoch: 6}, []string{"arm#7 children(web/pods)"}},
		{failed(7, pods), []string{"timer#8 rearm 400ms", "notify pods web/pods failed"}}, // capped
		{&v1.TimerFired{Timer: timerRearm, Epoch: 8}, []string{"arm#9 children(web/pods)"}},
		{watched(9, pods, true), []string{"notify pods web/pods rearmed"}},
		{&v1.TimerFired{Timer: timerRearm, Epoch: 8}, nil}, // duplicate
		// Success resets the backoff.
		{changed(9, pods, zk.EventNodeChildrenChanged), []string{"arm#10 children(web/pods)"}},
		{failed(10, pods), []string{"timer#11 rearm 100ms", "notify pods web/pods failed"}},
	})
}

func TestWatchers_LostWatchIsReportedAndRearmed(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{set(KindSnapshot, snap), []string{"arm#1 exists(db/snapshot)"}},
		{watched(1, snap, true), []string{"notify snapshot db/snapshot armed"}},
		{changed(1, snap, zk.EventNotWatching), []string{"timer#2 rearm 100ms", "notify snapshot db/snapshot lost"}},
		{&v1.TimerFired{Timer: timerRearm, Epoch: 2}, []string{"arm#3 exists(db/snapshot)"}},
		{watched(3, snap, true), []string{"notify snapshot db/snapshot rearmed"}},
	})
}

func TestWatchers_DroppedTargetInBackoffIsNotRetried(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{set(KindSnapshot, snap), []string{"arm#1 exists(db/snapshot)"}},
		{failed(1, snap), []string{"timer#2 rearm 100ms", "notify snapshot db/snapshot failed"}},
		{set(), nil},
		{&v1.TimerFired{Timer: timerRearm, Epoch: 2}, nil},
	})
}

func TestWatchers_StaleAndMisplacedInputsAreIgnored(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{set(KindPods, pods), []string{"arm#1 children(web/pods)"}},
		{changed(1, pods, zk.EventNodeChildrenChanged), nil}, // an event before its arm completed: not possible, ignored
		{watched(1, snap, true), nil},                        // wrong path
		{watched(7, pods, true), nil},                        // unknown generation
		{watched(1, pods, true), []string{"notify pods web/pods armed"}},
		{watched(1, pods, true), nil}, // duplicate completion
		{changed(1, pods, zk.EventNodeChildrenChanged), []string{"arm#2 children(web/pods)"}},
		{changed(1, pods, zk.EventNodeChildrenChanged), nil}, // duplicate event
		{"something else", nil},
	})
}

func TestWatchers_BadTargetsAreSkippedAndDuplicatesMerged(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{set(v1.WatchKind(99), pods, KindPods, "relative/path", KindSnapshot, "/trailing/", KindPods, pods, KindPods, pods,
			KindClusters, "", KindClusters, zk.Root), []string{"arm#1 children(web/pods)", "arm#2 children(" + zk.Root + ")"}},
	})
	if got := m.Watching(); !reflect.DeepEqual(got, []string{"pods " + pods, "clusters " + zk.Root}) {
		t.Fatalf("watching %q", got)
	}
}

func TestWatchers_RestartedMachineStartsAfterTheOldGenerations(t *testing.T) {
	old := newTestMachine()
	run(t, old, []step{
		{set(KindPods, pods), []string{"arm#1 children(web/pods)"}},
		{watched(1, pods, true), []string{"notify pods web/pods armed"}},
	})
	m := NewMachine(MachineConfig{Backoff: old.cfg.Backoff, FirstGeneration: old.Generation()})
	run(t, m, []step{
		{set(KindPods, pods), []string{"arm#2 children(web/pods)"}},
		{watched(2, pods, true), []string{"notify pods web/pods armed"}},
		{changed(1, pods, zk.EventNodeChildrenChanged), nil}, // the old incarnation's watch
		{changed(2, pods, zk.EventNodeChildrenChanged), []string{"arm#3 children(web/pods)"}},
	})
}

// input is msg as the machine's input (nil, which the machine ignores, when it is none).
func input(msg any) *v1.WatchersInput { return protocol.Input[*v1.WatchersInput](msg) }
