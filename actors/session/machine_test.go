package session

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
)

func newTestMachine() *Machine {
	return NewMachine(MachineConfig{
		Cluster:        "ns.web",
		ConnectTimeout: 5 * time.Second,
		SuspendAfter:   time.Second,
		Backoff:        backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second},
	})
}

// kinds names the effects, dropping logs and publications, so tables read as the protocol.
func kinds(effects []Effect) []string {
	var out []string
	for _, e := range effects {
		switch e := e.(type) {
		case Log, Publish:
		case Dial:
			out = append(out, fmt.Sprintf("dial#%d", e.Epoch))
		case Close:
			out = append(out, fmt.Sprintf("close#%d", e.Epoch))
		case Register:
			seq := "-"
			if e.HasSeq {
				seq = fmt.Sprint(e.Seq)
			}
			out = append(out, fmt.Sprintf("register#%d(%s,%s)", e.Epoch, e.Key, seq))
		case Deregister:
			out = append(out, fmt.Sprintf("deregister#%d(%s)", e.Epoch, e.Path))
		case StartTimer:
			out = append(out, fmt.Sprintf("timer#%d(%s,%s)", e.Epoch, protocol.Name(e.Name), e.After))
		case StartLeader:
			out = append(out, fmt.Sprintf("leader#%d", e.Epoch))
		case ReportSeq:
			out = append(out, fmt.Sprintf("seq(%d)", e.Seq))
		default:
			out = append(out, strings.ToLower(strings.TrimPrefix(fmt.Sprintf("%T", e), "session.")))
		}
	}
	return out
}

func connected(epoch uint64, id int64) *v1.SessionStateChanged {
	return &v1.SessionStateChanged{Epoch: epoch, State: v1.ZkState_ZK_STATE_CONNECTED, SessionId: id}
}

func state(epoch uint64, s v1.ZkState) *v1.SessionStateChanged {
	return &v1.SessionStateChanged{Epoch: epoch, State: s}
}

type step struct {
	in   any // nil: Start
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

func registeredMachine(t *testing.T) *Machine {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"askidentity"}},
		{&v1.Identity{Key: "k1"}, []string{"dial#1", "timer#1(connect,5s)"}},
		{connected(1, 7), []string{"register#1(k1,-)"}},
		{&v1.RegisterDone{Epoch: 1, Path: "/p/k1.0000000004", Seq: 4}, []string{"seq(4)", "leader#1"}},
	})
	return m
}

func TestSession_RegistersAndStartsTheLeader(t *testing.T) {
	m := registeredMachine(t)
	st := m.Status()
	if !st.GetRegistered() || st.GetSeq() != 4 || st.GetKey() != "k1" || st.GetSessionId() != 7 || !st.GetConnected() {
		t.Fatalf("status %v", st)
	}
}

func TestSession_DisconnectWithinTheSessionIsNotAReset(t *testing.T) {
	m := registeredMachine(t)
	run(t, m, []step{
		{state(1, v1.ZkState_ZK_STATE_DISCONNECTED), []string{"timer#1(suspend,1s)"}},
		{connected(1, 7), nil},
		{&v1.TimerFired{Timer: timerSuspend, Epoch: 1}, nil}, // reconnected in time: nothing to do
	})
	if !m.Status().GetRegistered() || m.Status().GetEpoch() != 1 {
		t.Fatalf("a disconnect reset the session: %v", m.Status())
	}
}

func TestSession_ExpiryReRegistersWithTheSameSeq(t *testing.T) {
	m := registeredMachine(t)
	run(t, m, []step{
		{state(1, v1.ZkState_ZK_STATE_EXPIRED), []string{"stopleader", "close#1", "dial#2", "timer#2(connect,5s)"}},
		{state(1, v1.ZkState_ZK_STATE_CLOSED), nil}, // the old client's last word: dropped
		{connected(2, 8), []string{"register#2(k1,4)"}},
		{&v1.RegisterDone{Epoch: 2, Path: "/p/k1.0000000009", Seq: 4}, []string{"leader#2"}},
	})
	if m.Status().GetSeq() != 4 {
		t.Fatalf("seq changed to %d", m.Status().GetSeq())
	}
}

func TestSession_ResetKeepsTheIdentity(t *testing.T) {
	m := registeredMachine(t)
	run(t, m, []step{
		{&v1.ResetSession{Cause: "test"}, []string{"stopleader", "close#1", "dial#2", "timer#2(connect,5s)"}},
		{&v1.RegisterDone{Epoch: 1, Path: "/late", Seq: 99}, nil}, // a completion of the old epoch
		{connected(2, 9), []string{"register#2(k1,4)"}},
	})
}

func TestSession_UnreachableZooKeeperBacksOff(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"askidentity"}},
		{&v1.Identity{Key: "k1", Seq: 3, HasSeq: true}, []string{"dial#1", "timer#1(connect,5s)"}},
		{&v1.TimerFired{Timer: timerConnect, Epoch: 1}, []string{"close#1", "timer#2(redial,100ms)"}},
		{&v1.TimerFired{Timer: timerRedial, Epoch: 2}, []string{"dial#3", "timer#3(connect,5s)"}},
		{&v1.TimerFired{Timer: timerConnect, Epoch: 3}, []string{"close#3", "timer#4(redial,200ms)"}},
		{&v1.TimerFired{Timer: timerConnect, Epoch: 3}, nil}, // stale
		{&v1.TimerFired{Timer: timerRedial, Epoch: 4}, []string{"dial#5", "timer#5(connect,5s)"}},
		{connected(5, 1), []string{"register#5(k1,3)"}},
		{&v1.RegisterDone{Epoch: 5, Path: "/p", Seq: 3}, []string{"leader#5"}},
		// Success resets the backoff.
		{&v1.RegisterDone{Epoch: 5, Path: "/p", Seq: 3}, nil},
	})
	run(t, m, []step{
		{state(5, v1.ZkState_ZK_STATE_FAILED), []string{"stopleader", "timer#6(redial,100ms)"}},
	})
}

func TestSession_RegistrationFailureRetriesOnANewClient(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"askidentity"}},
		{&v1.Identity{Key: "k1"}, []string{"dial#1", "timer#1(connect,5s)"}},
		{connected(1, 7), []string{"register#1(k1,-)"}},
		{&v1.RegisterDone{Epoch: 1, Failure: protocol.Other("boom")}, []string{"close#1", "timer#2(redial,100ms)"}},
	})
}

func TestSession_StopDeregistersFirst(t *testing.T) {
	m := registeredMachine(t)
	run(t, m, []step{
		{&v1.StopSession{}, []string{"stopleader", "deregister#1(/p/k1.0000000004)"}},
		{&v1.StopSession{}, nil},
		{state(1, v1.ZkState_ZK_STATE_EXPIRED), nil}, // no resurrection while stopping
		{&v1.DeregisterDone{Epoch: 1}, []string{"stopped"}},
		{&v1.StopSession{}, []string{"stopped"}},
	})
}

func TestSession_StopWithoutAClientStopsAtOnce(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"askidentity"}},
		{&v1.StopSession{}, []string{"stopped"}},
		{&v1.Identity{Key: "k"}, nil},
	})
}

func TestSession_LeadershipOfAStoppedLeaderIsIgnored(t *testing.T) {
	m := registeredMachine(t)
	m.Handle(input(&v1.LeadershipChanged{Leader: true, LockPath: "/lock"}))
	if m.Status().GetRole() != v1.Role_ROLE_LEADER || m.Status().GetLockPath() != "/lock" {
		t.Fatalf("status %v", m.Status())
	}
	m.Handle(input(state(1, v1.ZkState_ZK_STATE_EXPIRED)))
	if m.Status().GetRole() != v1.Role_ROLE_FOLLOWER {
		t.Fatalf("still leader after expiry")
	}
	if effects := m.Handle(input(&v1.LeadershipChanged{Leader: true, LockPath: "/lock"})); len(effects) != 0 {
		t.Fatalf("late leadership news accepted: %v", kinds(effects))
	}
}

func TestSession_IdentityWithoutKeyIsRefused(t *testing.T) {
	m := newTestMachine()
	m.Start()
	if got := kinds(m.Handle(input(&v1.Identity{}))); len(got) != 0 {
		t.Fatalf("dialed without a key: %v", got)
	}
	if m.Phase() != "identity" {
		t.Fatalf("phase %s", m.Phase())
	}
}

func TestSession_SeqZeroIsASeq(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"askidentity"}},
		{&v1.Identity{Key: "k1"}, []string{"dial#1", "timer#1(connect,5s)"}},
		{connected(1, 7), []string{"register#1(k1,-)"}},
		{&v1.RegisterDone{Epoch: 1, Path: "/p/k1.0000000000", Seq: 0}, []string{"seq(0)", "leader#1"}},
		{&v1.ResetSession{}, []string{"stopleader", "close#1", "dial#2", "timer#2(connect,5s)"}},
		{connected(2, 8), []string{"register#2(k1,0)"}},
	})
}

func TestSession_LongDisconnectStepsDownUntilReconnected(t *testing.T) {
	m := registeredMachine(t)
	m.Handle(input(&v1.LeadershipChanged{Leader: true, LockPath: "/lock"}))
	run(t, m, []step{
		{state(1, v1.ZkState_ZK_STATE_DISCONNECTED), []string{"timer#1(suspend,1s)"}},
		{&v1.TimerFired{Timer: timerSuspend, Epoch: 1}, []string{"stopleader"}},
	})
	if m.Status().GetRole() != v1.Role_ROLE_FOLLOWER || !m.Status().GetRegistered() {
		t.Fatalf("status %v", m.Status())
	}
	run(t, m, []step{
		{connected(1, 7), []string{"leader#1"}}, // same session: contend again
		{state(1, v1.ZkState_ZK_STATE_DISCONNECTED), []string{"timer#1(suspend,1s)"}},
		{state(1, v1.ZkState_ZK_STATE_EXPIRED), []string{"stopleader", "close#1", "dial#2", "timer#2(connect,5s)"}},
		{&v1.TimerFired{Timer: timerSuspend, Epoch: 1}, nil}, // stale
	})
}

func TestSession_SeqOfANodeCreatedBeforeAFailureIsKept(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{
		{nil, []string{"askidentity"}},
		{&v1.Identity{Key: "k1"}, []string{"dial#1", "timer#1(connect,5s)"}},
		{connected(1, 7), []string{"register#1(k1,-)"}},
		{&v1.RegisterDone{Epoch: 1, Path: "/p/k1.0000000002", Seq: 2, HasSeq: true, Failure: protocol.Other("connection lost")},
			[]string{"seq(2)", "close#1", "timer#2(redial,100ms)"}},
		{&v1.TimerFired{Timer: timerRedial, Epoch: 2}, []string{"dial#3", "timer#3(connect,5s)"}},
		{connected(3, 8), []string{"register#3(k1,2)"}},
	})
}

// input is msg as the machine's input (nil, which the machine ignores, when it is none).
func input(msg any) *v1.SessionInput { return protocol.Input[*v1.SessionInput](msg) }

// warnings returns the messages of the WARN log effects.
func warnings(effects []Effect) []string {
	var out []string
	for _, e := range effects {
		if l, ok := e.(Log); ok && l.Level == slog.LevelWarn {
			out = append(out, l.Msg)
		}
	}
	return out
}

// Issue 15: why ZooKeeper cannot be reached is logged at WARN once per attempt, and named again when the
// attempt is given up; a cause repeated within the attempt, or from a client given up, says nothing.
func TestSession_TheConnectionsCauseIsAWarningOncePerAttempt(t *testing.T) {
	m := newTestMachine()
	run(t, m, []step{{nil, []string{"askidentity"}}, {&v1.Identity{Key: "k1"}, []string{"dial#1", "timer#1(connect,5s)"}}})
	refused := &v1.SessionStateChanged{Epoch: 1, State: v1.ZkState_ZK_STATE_CONNECTING,
		Failure: &v1.Failure{Message: "dial tcp 127.0.0.1:2181: connect: connection refused"}}
	if got := warnings(m.Handle(input(refused))); len(got) != 1 || !strings.Contains(got[0], "connection refused") {
		t.Fatalf("first cause: warnings %q", got)
	}
	if got := warnings(m.Handle(input(refused))); len(got) != 0 {
		t.Fatalf("the same cause again: warnings %q", got)
	}
	got := warnings(m.Handle(input(&v1.TimerFired{Timer: timerConnect, Epoch: 1})))
	if len(got) != 1 || !strings.Contains(got[0], "no ZooKeeper session after 5s (last error: dial tcp 127.0.0.1:2181: connect: connection refused)") {
		t.Fatalf("the attempt given up: warnings %q", got)
	}
	if got := warnings(m.Handle(input(refused))); len(got) != 0 {
		t.Fatalf("a cause from the client given up: warnings %q", got)
	}
	m.Handle(input(&v1.TimerFired{Timer: timerRedial, Epoch: 2})) // the next attempt: epoch 3
	refused.Epoch = 3
	if got := warnings(m.Handle(input(refused))); len(got) != 1 {
		t.Fatalf("the next attempt's cause: warnings %q", got)
	}
}
