package model

import (
	"reflect"
	"testing"
	"time"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

func pausedRead(gen uint64, p map[string][]byte, hash string) *v1.ClusterRead {
	r := read(gen, p, hash)
	r.Paused = true
	return r
}

func wantState(t *testing.T, m *Machine, want v1.ModelState) {
	t.Helper()
	if got := m.Status().GetState(); got != want {
		t.Fatalf("state %s, want %s", got, want)
	}
}

// DESIGN §13: while paused, a change starts no phase and a running damper is dropped; once the paused
// node is deleted, the cluster that changed meanwhile is configured at once, without a damper.
func TestModel_PauseDropsTheDamperAndResumeConfiguresAtOnce(t *testing.T) {
	m := newTestMachine(2 * time.Second)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{read(1, pods("a", "b"), ""), []string{"timer#2(damper,2s)"}},
		{changed, []string{"read#3"}}, // the paused node appears
		{pausedRead(3, pods("a", "b"), ""), nil},
		{&v1.TimerFired{Timer: timerDamper, Epoch: 2}, nil}, // the damper is stale now
		{changed, []string{"read#5"}},                       // c joins while paused
		{pausedRead(5, pods("a", "b", "c"), ""), nil},
	})
	wantState(t, m, v1.ModelState_MODEL_STATE_PAUSED)
	run(t, m, []step{
		{changed, []string{"read#6"}}, // the paused node is deleted
		{read(6, pods("a", "b", "c"), ""), []string{"configure#7(3)"}},
	})
	wantState(t, m, v1.ModelState_MODEL_STATE_CONFIGURING)
}

// A cluster paused while clean stays idle, and a resume with nothing changed starts nothing.
func TestModel_PauseOfACleanClusterThenResumeStartsNothing(t *testing.T) {
	m := newTestMachine(0)
	h := hashOf(t, pods("a"), nil)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{pausedRead(1, pods("a"), h), []string{"write#2(1," + h[:5] + ")"}}, // the snapshot is no phase: still ours to own
		{&v1.Written{Generation: 2}, []string{"read#3"}},
		{pausedRead(3, pods("a"), h), nil},
	})
	wantState(t, m, v1.ModelState_MODEL_STATE_PAUSED)
	run(t, m, []step{
		{changed, []string{"read#4"}},
		{read(4, pods("a"), h), nil},
	})
	wantState(t, m, v1.ModelState_MODEL_STATE_IDLE)
}

// A phase that runs when the paused node appears finishes; the next change waits.
func TestModel_APhaseInFlightFinishesThenThePauseHolds(t *testing.T) {
	m := newTestMachine(0)
	h := hashOf(t, pods("a"), nil)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{read(1, pods("a"), ""), []string{"timer#2(damper,0s)"}},
		{&v1.TimerFired{Timer: timerDamper, Epoch: 2}, []string{"configure#3(1)"}},
		{changed, nil}, // paused during the phase: read after it
		{&v1.PhaseDone{Generation: 3}, []string{"write#4(1," + h[:5] + ")+history(ok,1)"}},
		{&v1.Written{Generation: 4}, []string{"read#5"}},
		{pausedRead(5, pods("a", "b"), h), nil},
	})
	wantState(t, m, v1.ModelState_MODEL_STATE_PAUSED)
}

// DESIGN §13: the history entry carries the phase's times (from the adapter's clock), its hash, the pods it
// configured and the ones it dropped; a failed phase is recorded with why.
func TestModel_HistoryEntriesOfAPhaseThatDroppedAPodAndOfAFailedOne(t *testing.T) {
	m := newTestMachine(0)
	h := hashOf(t, pods("a"), nil)
	m.Start()
	m.Handle(input(read(1, pods("a", "b"), "")))
	m.Handle(input(&v1.TimerFired{Timer: timerDamper, Epoch: 2}))
	var got []HistoryEntry // an ok phase's entry goes with its write
	for _, e := range m.Handle(input(&v1.PhaseDone{Generation: 3, Dropped: []string{"b"}, EndedUnixMs: 1000, DurationMs: 42})) {
		if e, ok := e.(Write); ok && e.History != nil {
			got = append(got, *e.History)
		}
	}
	for _, e := range m.Handle(input(&v1.Written{Generation: 4})) {
		if _, ok := e.(History); ok {
			t.Fatalf("the written phase is appended twice: %+v", e)
		}
	}
	hab := hashOf(t, pods("a", "b"), nil)
	want := []HistoryEntry{{EndedUnixMs: 1000, DurationMs: 42, Hash: hab, Pods: 1, Outcome: OutcomeOK, Dropped: []string{"b"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("history %+v, want %+v", got, want)
	}
	m.Handle(input(read(5, pods("a", "c"), h)))
	m.Handle(input(&v1.TimerFired{Timer: timerDamper, Epoch: 6}))
	got = nil
	for _, e := range m.Handle(input(&v1.PhaseDone{Generation: 7, Failure: protocol.Other("pod c: 406"), EndedUnixMs: 2000, DurationMs: 7})) {
		if e, ok := e.(History); ok {
			got = append(got, e.Entry)
		}
	}
	hac := hashOf(t, pods("a", "c"), nil)
	want = []HistoryEntry{{EndedUnixMs: 2000, DurationMs: 7, Hash: hac, Pods: 2, Outcome: "failed: pod c: 406", Dropped: []string{}}}
	if len(got) == 1 && got[0].Dropped == nil {
		got[0].Dropped = []string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("history %+v, want %+v", got, want)
	}
}
