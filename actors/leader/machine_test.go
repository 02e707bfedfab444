package leader

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
)

const dir = "/ochopod/clusters/ns.web/coordinator"

func newTestMachine() *Machine {
	return NewMachine(MachineConfig{Coordinator: dir, Backoff: backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second}})
}

func kinds(effects []Effect) []string {
	var out []string
	for _, e := range effects {
		switch e := e.(type) {
		case Log:
		case EnsureContender:
			out = append(out, fmt.Sprintf("ensure#%d", e.Generation))
		case ListContenders:
			out = append(out, fmt.Sprintf("list#%d", e.Generation))
		case Watch:
			out = append(out, fmt.Sprintf("watch#%d(%s)", e.Generation, e.Path[len(dir)+1:]))
		case StartWorker:
			out = append(out, "startworker")
		case StopWorker:
			out = append(out, "stopworker")
		case Announce:
			out = append(out, fmt.Sprintf("announce(%v)", e.Leader))
		case StartTimer:
			out = append(out, fmt.Sprintf("timer#%d(%s)", e.Generation, e.After))
		case Touch:
			out = append(out, fmt.Sprintf("touch#%d", e.Generation))
		case Position:
			out = append(out, map[Position]string{{Leading: true}: "line(leading)", {Next: true}: "line(next)", {}: "line(-)"}[e])
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
		var got []string
		if s.in == nil {
			got = kinds(m.Start())
		} else {
			got = kinds(m.Handle(input(s.in)))
		}
		if !reflect.DeepEqual(got, s.want) && !(len(got) == 0 && len(s.want) == 0) {
			t.Fatalf("step %d (%T %v): effects %q, want %q", i, s.in, s.in, got, s.want)
		}
	}
}

const (
	a = "aaaa__lock__0000000001"
	b = "bbbb__lock__0000000002"
	c = "cccc__lock__0000000003"
)

func TestLeader_LowestSequenceLeads(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"ensure#1"}},
		{&v1.ContenderReady{Generation: 1, Path: dir + "/" + a}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{c, a, b, "junk"}}, []string{"announce(true)", "line(leading)", "startworker", "watch#1(" + a + ")", "touch#1"}},
		{&v1.NodeWatched{Generation: 1, Path: dir + "/" + a, Exists: true}, nil},
	})
	if !m.Leading() || m.LockPath() != dir+"/"+a {
		t.Fatalf("leading %v lock %q", m.Leading(), m.LockPath())
	}
}

func TestLeader_WatchesOnlyItsPredecessor(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"ensure#1"}},
		{&v1.ContenderReady{Generation: 1, Path: dir + "/" + c}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{a, b, c}}, []string{"watch#1(" + b + ")"}},
		{&v1.NodeWatched{Generation: 1, Path: dir + "/" + b, Exists: true}, nil},
		// b leaves: look again; a still holds the lock, so watch a.
		{&v1.NodeChanged{Generation: 1, Path: dir + "/" + b, Event: v1.ZkEvent_ZK_EVENT_NODE_DELETED}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{a, c}}, []string{"line(next)", "watch#1(" + a + ")"}},
		// a left between the listing and the watch: exists is false, look again at once.
		{&v1.NodeWatched{Generation: 1, Path: dir + "/" + a, Exists: false}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{c}}, []string{"announce(true)", "line(leading)", "startworker", "watch#1(" + c + ")", "touch#1"}},
	})
}

// DESIGN §12 "kept connections": the machine tells when the pod is next in line (its predecessor holds the
// lock), once, and when it no longer is: it leads, its node is gone, an operation failed, it stops.
func TestLeader_TellsWhenItIsNextInLine(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"ensure#1"}},
		{&v1.ContenderReady{Generation: 1, Path: dir + "/" + c}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{a, b, c}}, []string{"watch#1(" + b + ")"}}, // third: nothing
		{&v1.NodeChanged{Generation: 1, Path: dir + "/" + b, Event: v1.ZkEvent_ZK_EVENT_NODE_DELETED}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{a, c}}, []string{"line(next)", "watch#1(" + a + ")"}},
		// The leader touches its node (it just won the lock): we look again, and are still next, told once.
		{&v1.NodeChanged{Generation: 1, Path: dir + "/" + a, Event: v1.ZkEvent_ZK_EVENT_NODE_DATA_CHANGED}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{a, c}}, []string{"watch#1(" + a + ")"}},
		// The leader leaves: we lead.
		{&v1.NodeChanged{Generation: 1, Path: dir + "/" + a, Event: v1.ZkEvent_ZK_EVENT_NODE_DELETED}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{c}}, []string{"announce(true)", "line(leading)", "startworker", "watch#1(" + c + ")", "touch#1"}},
	})
	for _, tc := range []struct {
		name string
		in   any // nil: Stop
		want []string
	}{
		{"its node vanished", &v1.ContendersListed{Generation: 1, Children: []string{a}}, []string{"line(-)", "ensure#2"}},
		{"a watch failed", &v1.NodeWatched{Generation: 1, Path: dir + "/" + b, Failure: protocol.Other("connection lost")}, []string{"line(-)", "timer#2(100ms)"}},
		{"the watch is lost", &v1.NodeChanged{Generation: 1, Path: dir + "/" + b, Event: v1.ZkEvent_ZK_EVENT_NOT_WATCHING}, []string{"line(-)", "timer#2(100ms)"}},
		{"stopped", nil, []string{"line(-)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMachine()
			run(t, m, []step{
				{nil, []string{"ensure#1"}},
				{&v1.ContenderReady{Generation: 1, Path: dir + "/" + c}, []string{"list#1"}},
				{&v1.ContendersListed{Generation: 1, Children: []string{b, c}}, []string{"line(next)", "watch#1(" + b + ")"}},
			})
			if _, ok := tc.in.(*v1.ContendersListed); ok {
				run(t, m, []step{{&v1.NodeChanged{Generation: 1, Path: dir + "/" + b, Event: v1.ZkEvent_ZK_EVENT_NODE_DELETED}, []string{"list#1"}}})
			}
			if tc.in == nil {
				if got := kinds(m.Stop()); !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("stop: %q, want %q", got, tc.want)
				}
			} else {
				run(t, m, []step{{tc.in, tc.want}})
			}
			if m.InLine() != (Position{}) {
				t.Fatalf("still in line: %+v", m.InLine())
			}
		})
	}
}

// A contender behind the next one learns that it is next when the leader leaves: its predecessor, winning the
// lock, touches its node, and the watch that fires makes it look again.
func TestLeader_LearnsItIsNextWhenItsPredecessorLeads(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"ensure#1"}},
		{&v1.ContenderReady{Generation: 1, Path: dir + "/" + c}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{a, b, c}}, []string{"watch#1(" + b + ")"}},
		{&v1.NodeChanged{Generation: 1, Path: dir + "/" + b, Event: v1.ZkEvent_ZK_EVENT_NODE_DATA_CHANGED}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{b, c}}, []string{"line(next)", "watch#1(" + b + ")"}},
	})
}

func TestLeader_StepsDownWhenItsNodeVanishes(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"ensure#1"}},
		{&v1.ContenderReady{Generation: 1, Path: dir + "/" + a}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{a}}, []string{"announce(true)", "line(leading)", "startworker", "watch#1(" + a + ")", "touch#1"}},
		{&v1.NodeChanged{Generation: 1, Path: dir + "/" + a, Event: v1.ZkEvent_ZK_EVENT_NODE_DELETED}, []string{"stopworker", "announce(false)", "line(-)", "ensure#2"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{a}}, nil}, // stale generation
	})
}

func TestLeader_FailureStepsDownAndRetriesWithBackoff(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"ensure#1"}},
		{&v1.ContenderReady{Generation: 1, Path: dir + "/" + a}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{a}}, []string{"announce(true)", "line(leading)", "startworker", "watch#1(" + a + ")", "touch#1"}},
		{&v1.NodeChanged{Generation: 1, Path: dir + "/" + a, Event: v1.ZkEvent_ZK_EVENT_NOT_WATCHING}, []string{"stopworker", "announce(false)", "line(-)", "timer#2(100ms)"}},
		{&v1.TimerFired{Timer: timerRetry, Epoch: 1}, nil},
		{&v1.TimerFired{Timer: timerRetry, Epoch: 2}, []string{"ensure#3"}},
		{&v1.ContenderReady{Generation: 3, Failure: protocol.Other("connection lost")}, []string{"timer#4(200ms)"}},
	})
}

func TestLeader_VanishedContenderContendsAgain(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"ensure#1"}},
		{&v1.ContenderReady{Generation: 1, Path: dir + "/" + b}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{a, c}}, []string{"ensure#2"}},
	})
}

func TestLeader_DataChangeOnOwnNodeRewatches(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"ensure#1"}},
		{&v1.ContenderReady{Generation: 1, Path: dir + "/" + a}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{a}}, []string{"announce(true)", "line(leading)", "startworker", "watch#1(" + a + ")", "touch#1"}},
		{&v1.NodeChanged{Generation: 1, Path: dir + "/" + a, Event: v1.ZkEvent_ZK_EVENT_NODE_DATA_CHANGED}, []string{"watch#1(" + a + ")"}},
	})
	if !m.Leading() {
		t.Fatal("lost the lock on a data change")
	}
}

func TestLeader_StopReleasesTheWorker(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"ensure#1"}},
		{&v1.ContenderReady{Generation: 1, Path: dir + "/" + a}, []string{"list#1"}},
		{&v1.ContendersListed{Generation: 1, Children: []string{a}}, []string{"announce(true)", "line(leading)", "startworker", "watch#1(" + a + ")", "touch#1"}},
	})
	if got := kinds(m.Stop()); !reflect.DeepEqual(got, []string{"stopworker", "announce(false)", "line(-)"}) {
		t.Fatalf("stop: %q", got)
	}
	if got := kinds(m.Handle(input(&v1.NodeChanged{Generation: 1, Path: dir + "/" + a, Event: v1.ZkEvent_ZK_EVENT_NODE_DELETED}))); len(got) != 0 {
		t.Fatalf("a stopped machine reacted: %q", got)
	}
}

// input is msg as the machine's input (nil, which the machine ignores, when it is none).
func input(msg any) *v1.LeaderInput { return protocol.Input[*v1.LeaderInput](msg) }
