package model

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/zk"
)

func newTestMachine(damper time.Duration, deps ...string) *Machine {
	return NewMachine(MachineConfig{
		Cluster: zk.ClusterOf("ns", "web"), Namespace: "ns", DependsOn: deps, Damper: damper,
		RetryFloor: time.Second, Backoff: backoff.Policy{Initial: 500 * time.Millisecond, Max: 8 * time.Second},
	})
}

func kinds(effects []Effect) []string {
	var out []string
	for _, e := range effects {
		switch e := e.(type) {
		case Log, Publish:
		case Watch:
			var paths []string
			for _, t := range e.Set.GetTargets() {
				paths = append(paths, protocol.Name(t.GetKind()))
			}
			out = append(out, "watch("+strings.Join(paths, ",")+")")
		case Read:
			out = append(out, fmt.Sprintf("read#%d", e.Generation))
		case Configure:
			out = append(out, fmt.Sprintf("configure#%d(%d)", e.Generation, len(e.Pods)))
		case Write:
			w := fmt.Sprintf("write#%d(%d,%s)", e.Generation, len(e.Pods), e.Hash[:5])
			if e.History != nil { // a phase's entry, in the same multi
				outcome, _, _ := strings.Cut(e.History.Outcome, ":")
				w += fmt.Sprintf("+history(%s,%d)", outcome, e.History.Pods)
			}
			out = append(out, w)
		case StartTimer:
			out = append(out, fmt.Sprintf("timer#%d(%s,%s)", e.Generation, protocol.Name(e.Name), e.After))
		case History:
			outcome, _, _ := strings.Cut(e.Entry.Outcome, ":")
			out = append(out, fmt.Sprintf("history(%s,%d)", outcome, e.Entry.Pods))
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

func pods(keys ...string) map[string][]byte {
	out := map[string][]byte{}
	for _, k := range keys {
		out[k] = []byte(fmt.Sprintf(`{"ip":"10.0.0.1","key":%q}`, k))
	}
	return out
}

func hashOf(t *testing.T, p map[string][]byte, d map[string][]byte) string {
	t.Helper()
	h, err := Hash(rawMap(p), rawMap(d))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func read(gen uint64, p map[string][]byte, hash string) *v1.ClusterRead {
	return &v1.ClusterRead{Generation: gen, Pods: p, Hash: hash}
}

var changed = &v1.Changed{Target: &v1.WatchTarget{Kind: v1.WatchKind_WATCH_KIND_PODS}}

func TestModel_ConfiguresANewClusterAfterTheDamper(t *testing.T) {
	m := newTestMachine(2 * time.Second)
	h := hashOf(t, pods("a", "b"), nil)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{read(1, pods("a", "b"), ""), []string{"timer#2(damper,2s)"}},
		{&v1.TimerFired{Timer: timerDamper, Epoch: 2}, []string{"configure#3(2)"}},
		{&v1.PhaseDone{Generation: 3}, []string{"write#4(2," + h[:5] + ")+history(ok,2)"}},
		{&v1.Written{Generation: 4}, []string{"read#5"}},
		{read(5, pods("a", "b"), h), nil},
	})
	if st := m.Status(); st.GetConfigurations() != 1 || st.GetState() != v1.ModelState_MODEL_STATE_IDLE || st.GetHash() != h {
		t.Fatalf("status %v", st)
	}
}

func TestModel_DamperCancelsRevertedChange(t *testing.T) {
	m := newTestMachine(2 * time.Second)
	h := hashOf(t, pods("a"), nil)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{read(1, pods("a"), h), []string{"write#2(1," + h[:5] + ")"}}, // clean: own the snapshot
		{&v1.Written{Generation: 2}, []string{"read#3"}},
		{read(3, pods("a"), h), nil},
		{changed, []string{"read#4"}},
		{read(4, pods("a", "b"), h), []string{"timer#5(damper,2s)"}}, // b joined
		{changed, []string{"read#6"}},
		{read(6, pods("a"), h), []string{"write#7(1," + h[:5] + ")"}}, // b left within the damper: no phase
		{&v1.TimerFired{Timer: timerDamper, Epoch: 5}, nil},
	})
	if m.Status().GetConfigurations() != 0 {
		t.Fatal("a reverted change was configured")
	}
}

// DESIGN §7: a change that reverts within the damper cancels the configuration, and a later change gets a
// damper of its own. The cancelled damper's timer may still fire (a host cannot always take back a timer whose
// message is on its way): it must not configure the later change early.
func TestModel_ACancelledDampersTimerDoesNotCutTheNextOneShort(t *testing.T) {
	m := newTestMachine(2 * time.Second)
	h := hashOf(t, pods("a"), nil)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{read(1, pods("a"), h), []string{"write#2(1," + h[:5] + ")"}},
		{&v1.Written{Generation: 2}, []string{"read#3"}},
		{read(3, pods("a"), h), nil},
		{changed, []string{"read#4"}},
		{read(4, pods("a", "b"), h), []string{"timer#5(damper,2s)"}}, // b joined
		{changed, []string{"read#6"}},
		{read(6, pods("a"), h), []string{"write#7(1," + h[:5] + ")"}}, // b left: cancelled
		{&v1.Written{Generation: 7}, []string{"read#8"}},
		{read(8, pods("a"), h), nil},
		{changed, []string{"read#9"}},
		{read(9, pods("a", "c"), h), []string{"timer#10(damper,2s)"}}, // c joined: a damper of its own
		{&v1.TimerFired{Timer: timerDamper, Epoch: 5}, nil},           // the cancelled one fires late
		{&v1.TimerFired{Timer: timerDamper, Epoch: 10}, []string{"configure#11(2)"}},
	})
}

func TestModel_ChangesDuringAPhaseAreReadAfterIt(t *testing.T) {
	m := newTestMachine(0)
	h2 := hashOf(t, pods("a", "b"), nil)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{read(1, pods("a", "b"), ""), []string{"timer#2(damper,0s)"}},
		{&v1.TimerFired{Timer: timerDamper, Epoch: 2}, []string{"configure#3(2)"}},
		{changed, nil}, // c joins during the phase
		{changed, nil}, // duplicated events cost nothing
		{&v1.PhaseDone{Generation: 3}, []string{"write#4(2," + h2[:5] + ")+history(ok,2)"}},
		{&v1.Written{Generation: 4}, []string{"read#5"}},
		{read(5, pods("a", "b", "c"), h2), []string{"timer#6(damper,0s)"}},
	})
}

func TestModel_FailedPhaseRetriesWithAFloorAndBackoff(t *testing.T) {
	m := newTestMachine(0)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{read(1, pods("a"), ""), []string{"timer#2(damper,0s)"}},
		{&v1.TimerFired{Timer: timerDamper, Epoch: 2}, []string{"configure#3(1)"}},
		{&v1.PhaseDone{Generation: 3, Failure: protocol.Other("pod a: 406")}, []string{"history(failed,1)", "timer#4(retry,1s)"}},
		{changed, nil}, // waits for the retry
		{&v1.TimerFired{Timer: timerRetry, Epoch: 4}, []string{"read#5"}},
		{read(5, pods("a"), ""), []string{"configure#6(1)"}}, // DESIGN §7: the retry's wait was the damper
		{&v1.PhaseDone{Generation: 6, Failure: protocol.Other("again")}, []string{"history(failed,1)", "timer#7(retry,1s)"}},
		{&v1.TimerFired{Timer: timerRetry, Epoch: 7}, []string{"read#8"}},
		{read(8, pods("a"), ""), []string{"configure#9(1)"}},
		{&v1.PhaseDone{Generation: 9, Failure: protocol.Other("and again")}, []string{"history(failed,1)", "timer#10(retry,2s)"}},
	})
}

// TestModel_RetryConfiguresAtOnceAfterItsWait: the read after a failed phase's retry wait configures what
// it finds at once, changes noted during the read included (DESIGN §7: the wait was at least a damper, so
// the last change was seen at least a damper ago or came during it, as a change during a damper does). A
// read it did not start, or one that finds the cluster clean, goes back to the damper.
func TestModel_RetryConfiguresAtOnceAfterItsWait(t *testing.T) {
	m := newTestMachine(5 * time.Second)
	h1 := hashOf(t, pods("a"), nil)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{read(1, pods("a"), ""), []string{"timer#2(damper,5s)"}},
		{&v1.TimerFired{Timer: timerDamper, Epoch: 2}, []string{"configure#3(1)"}},
		{&v1.PhaseDone{Generation: 3, Failure: protocol.Other("pod a: 406")}, []string{"history(failed,1)", "timer#4(retry,5s)"}},
		{&v1.TimerFired{Timer: timerRetry, Epoch: 4}, []string{"read#5"}},
		{changed, nil}, // b joins during the read: read again, still at once
		{read(5, pods("a"), ""), []string{"read#6"}},
		{read(6, pods("a", "b"), ""), []string{"configure#7(2)"}},
		{&v1.PhaseDone{Generation: 7, Failure: protocol.Other("pod b: 406")}, []string{"history(failed,2)", "timer#8(retry,5s)"}},
		// The retry's read fails: the next retry's read configures at once too.
		{&v1.TimerFired{Timer: timerRetry, Epoch: 8}, []string{"read#9"}},
		{&v1.ClusterRead{Generation: 9, Failure: protocol.Other("connection lost")}, []string{"timer#10(retry,5s)"}},
		{&v1.TimerFired{Timer: timerRetry, Epoch: 10}, []string{"read#11"}},
		{read(11, pods("a"), ""), []string{"configure#12(1)"}},
		{&v1.PhaseDone{Generation: 12}, []string{"write#13(1," + h1[:5] + ")+history(ok,1)"}},
		{&v1.Written{Generation: 13}, []string{"read#14"}},
		// Configured: the next change waits for a damper again.
		{read(14, pods("a", "b"), h1), []string{"timer#15(damper,5s)"}},
	})
}

// TestModel_RetryFindingTheClusterCleanForgetsIt: a retry whose read finds the change reverted does
// nothing; a later change waits for a whole damper.
func TestModel_RetryFindingTheClusterCleanForgetsIt(t *testing.T) {
	m := newTestMachine(5 * time.Second)
	h1 := hashOf(t, pods("a"), nil)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{read(1, pods("a"), h1), []string{"write#2(1," + h1[:5] + ")"}},
		{&v1.Written{Generation: 2}, []string{"read#3"}},
		{read(3, pods("a", "b"), h1), []string{"timer#4(damper,5s)"}},
		{&v1.TimerFired{Timer: timerDamper, Epoch: 4}, []string{"configure#5(2)"}},
		{&v1.PhaseDone{Generation: 5, Failure: protocol.Other("pod b: 406")}, []string{"history(failed,2)", "timer#6(retry,5s)"}},
		{&v1.TimerFired{Timer: timerRetry, Epoch: 6}, []string{"read#7"}},
		{read(7, pods("a"), h1), nil}, // b left: clean again, nothing to do
		{changed, []string{"read#8"}},
		{read(8, pods("a", "b"), h1), []string{"timer#9(damper,5s)"}},
	})
}

func TestModel_DeadPodsAreLeftOutOfTheSnapshot(t *testing.T) {
	m := newTestMachine(0)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{read(1, pods("a", "b", "c"), ""), []string{"timer#2(damper,0s)"}},
		{&v1.TimerFired{Timer: timerDamper, Epoch: 2}, []string{"configure#3(3)"}},
	})
	effects := m.Handle(input(&v1.PhaseDone{Generation: 3, Dropped: []string{"b"}}))
	var w Write
	for _, e := range effects {
		if x, ok := e.(Write); ok {
			w = x
		}
	}
	if len(w.Pods) != 2 || w.Pods["b"] != nil || w.Hash != hashOf(t, pods("a", "b", "c"), nil) {
		t.Fatalf("write %v", w)
	}
}

// writingAfterPhase is a model that configured pod a and waits for its write, generation 4.
func writingAfterPhase(t *testing.T) *Machine {
	t.Helper()
	m := newTestMachine(0)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{read(1, pods("a"), ""), []string{"timer#2(damper,0s)"}},
		{&v1.TimerFired{Timer: timerDamper, Epoch: 2}, []string{"configure#3(1)"}},
		{&v1.PhaseDone{Generation: 3}, []string{"write#4(1," + hashOf(t, pods("a"), nil)[:5] + ")+history(ok,1)"}},
	})
	return m
}

func TestModel_FencedWriteStopsTheModel(t *testing.T) {
	m := writingAfterPhase(t)
	run(t, m, []step{
		{&v1.Written{Generation: 4, Failure: &v1.Failure{Kind: v1.ErrorKind_ERROR_KIND_FENCED, Message: "fence"}}, nil},
		{changed, nil},
		{read(5, pods("a", "b"), ""), nil},
	})
	if m.Status().GetLastError() == "" {
		t.Fatal("no error recorded")
	}
}

func TestModel_StaleCompletionsAreDropped(t *testing.T) {
	m := newTestMachine(time.Second)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{read(7, pods("a"), ""), nil},
		{&v1.PhaseDone{Generation: 1}, nil},
		{&v1.Written{Generation: 1}, nil},
		{&v1.TimerFired{Timer: timerDamper, Epoch: 1}, nil},
		{read(1, pods("a"), ""), []string{"timer#2(damper,1s)"}},
	})
}

func TestModel_WatchesDependenciesAndNewWildcardMatches(t *testing.T) {
	m := newTestMachine(0, "db-*")
	deps := map[string][]byte{"ns.db-a": []byte(`{}`)}
	declared := map[string][]byte{"db-*": []byte(`{}`)} // DESIGN §11: the hash covers the entries as declared
	run(t, m, []step{
		{nil, []string{"watch(pods,paused,clusters)", "read#1"}},
		{&v1.ClusterRead{Generation: 1, Pods: pods("a"), Dependencies: deps, Hash: hashOf(t, pods("a"), declared), Clusters: []string{"ns.db-a", "ns.web"}},
			[]string{"watch(pods,paused,snapshot,clusters)", "write#2(1," + hashOf(t, pods("a"), declared)[:5] + ")"}},
	})
}

func TestModel_MissingDependencySnapshotKeepsTheLastOne(t *testing.T) {
	m := newTestMachine(0, "db")
	deps := map[string][]byte{"ns.db": []byte(`{"x":{"ip":"1.1.1.1"}}`)}
	h := hashOf(t, pods("a"), deps)
	m.Start()
	m.Handle(input(&v1.ClusterRead{Generation: 1, Pods: pods("a"), Dependencies: deps, Hash: h}))
	m.Handle(input(&v1.Written{Generation: 2}))
	// db's leader changes hands: its ephemeral snapshot is briefly missing. Nothing to configure.
	got := kinds(m.Handle(input(&v1.ClusterRead{Generation: 3, Pods: pods("a"), Dependencies: map[string][]byte{"ns.db": []byte("null")}, Hash: h})))
	if len(got) != 0 {
		t.Fatalf("a missing snapshot caused %q", got)
	}
}

func TestModel_ProbeRunsAfterEachConfigurationAndPeriodically(t *testing.T) {
	m := NewMachine(MachineConfig{Cluster: zk.ClusterOf("ns", "web"), Namespace: "ns", RetryFloor: time.Second,
		ProbeEvery: time.Minute, Backoff: backoff.Policy{Initial: time.Second}})
	probes := func(effects []Effect) (n int) {
		for _, e := range effects {
			if _, ok := e.(Probe); ok {
				n++
			}
		}
		return n
	}
	m.Start()
	m.Handle(input(read(1, pods("a"), "")))
	m.Handle(input(&v1.TimerFired{Timer: timerDamper, Epoch: 2}))
	m.Handle(input(&v1.PhaseDone{Generation: 3}))
	if n := probes(m.Handle(input(&v1.Written{Generation: 4}))); n != 1 {
		t.Fatalf("%d probes after a configuration, want 1", n)
	}
	// While a probe runs, the period passes: no second probe, and the first one's answer still counts.
	if n := probes(m.Handle(input(&v1.TimerFired{Timer: timerProbe, Epoch: 2}))); n != 0 {
		t.Fatalf("%d probes while one runs", n)
	}
	m.Handle(input(&v1.CallbackDone{Callback: v1.Callback_CALLBACK_PROBE, Epoch: 1, Failure: protocol.Other("db unreachable")}))
	if st := m.Status().GetStatus(); st != "* db unreachable" {
		t.Fatalf("status %q", st)
	}
	if n := probes(m.Handle(input(&v1.TimerFired{Timer: timerProbe, Epoch: 3}))); n != 1 {
		t.Fatal("no periodic probe")
	}
	m.Handle(input(&v1.CallbackDone{Callback: v1.Callback_CALLBACK_PROBE, Epoch: 2, Result: []byte("3 pods ok")}))
	if st := m.Status().GetStatus(); st != "3 pods ok" {
		t.Fatalf("status %q", st)
	}
}

func TestModel_ChangeDuringTheDamperIsConfiguredWhenItExpires(t *testing.T) {
	m := newTestMachine(2 * time.Second)
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{read(1, pods("a"), ""), []string{"timer#2(damper,2s)"}},
		{changed, []string{"read#3"}}, // b joins while the damper runs
		{read(3, pods("a", "b"), ""), nil},
		{&v1.TimerFired{Timer: timerDamper, Epoch: 2}, []string{"configure#4(2)"}},
	})
}

// A pod node still registering (no seq in its payload) is no pod yet: the model watches its node, and the
// payload written with the seq (which changes no child of pods/) fires that watch and reads again.
func TestModel_WatchesPodsStillRegisteringUntilTheyWroteTheirSeq(t *testing.T) {
	m := newTestMachine(0)
	h := hashOf(t, pods("a"), nil)
	pending := &v1.ClusterRead{Generation: 1, Pods: pods("a"), Hash: h, Pending: []string{"/ochopod/clusters/ns.web/pods/b.0000000002"}}
	run(t, m, []step{
		{nil, []string{"watch(pods,paused)", "read#1"}},
		{pending, []string{"watch(pods,paused,pod)", "write#2(1," + h[:5] + ")"}},
		{&v1.Written{Generation: 2}, []string{"read#3"}},
		{&v1.ClusterRead{Generation: 3, Pods: pods("a"), Hash: h, Pending: pending.Pending}, nil}, // same set: no new watch
		{&v1.Changed{Target: &v1.WatchTarget{Kind: v1.WatchKind_WATCH_KIND_POD, Path: pending.Pending[0]}, Kind: v1.ChangeKind_CHANGE_KIND_FIRED, Event: v1.ZkEvent_ZK_EVENT_NODE_DATA_CHANGED}, []string{"read#4"}},
		{read(4, pods("a", "b"), h), []string{"watch(pods,paused)", "timer#5(damper,0s)"}},
	})
}

// input is msg as the machine's input (nil, which the machine ignores, when it is none).
func input(msg any) *v1.ModelInput { return protocol.Input[*v1.ModelInput](msg) }
