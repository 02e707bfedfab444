package zkmem_test

import (
	"errors"
	"testing"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

func TestZkmem_FailNext(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		inject  func(s *zkmem.Server, id int64) error
		calls   []string // "create /x", "get /", ...
		wantErr []error  // per call
		created bool     // /x exists at the end
	}{
		{"fails the matching op, not applied",
			func(s *zkmem.Server, id int64) error { return s.FailNext(id, zkmem.OpCreate, zk.ErrConnectionLost) },
			[]string{"get", "create"}, []error{nil, zk.ErrConnectionLost}, false},
		{"after apply: applied, then fails",
			func(s *zkmem.Server, id int64) error {
				return s.FailNextAfterApply(id, zkmem.OpCreate, zk.ErrConnectionLost)
			},
			[]string{"create", "create"}, []error{zk.ErrConnectionLost, zk.ErrNodeExists}, true},
		{"once only",
			func(s *zkmem.Server, id int64) error { return s.FailNext(id, zkmem.OpGet, errBoom) },
			[]string{"get", "get"}, []error{errBoom, nil}, false},
		{"queued in order",
			func(s *zkmem.Server, id int64) error {
				return errors.Join(s.FailNext(id, zkmem.OpGet, errBoom), s.FailNext(id, zkmem.OpGet, zk.ErrNoNode))
			},
			[]string{"get", "get", "get"}, []error{errBoom, zk.ErrNoNode, nil}, false},
		{"any op",
			func(s *zkmem.Server, id int64) error { return s.FailNext(id, zkmem.OpAny, errBoom) },
			[]string{"multi", "create"}, []error{errBoom, nil}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.dial("")
			if err := tt.inject(f.srv, c.SessionID()); err != nil {
				t.Fatal(err)
			}
			for i, call := range tt.calls {
				var err error
				switch call {
				case "get":
					_, _, err = c.Get("/")
				case "create":
					_, err = c.Create("/x", nil, zk.Persistent)
				case "multi":
					_, err = c.Multi(zk.CheckOp{Path: "/", Version: zk.AnyVersion})
				}
				if want := tt.wantErr[i]; (want == nil && err != nil) || !errors.Is(err, want) {
					t.Errorf("call %d (%s): %v, want %v", i, call, err, want)
				}
			}
			if got := exists(t, c, "/x"); got != tt.created {
				t.Errorf("/x exists %v, want %v", got, tt.created)
			}
		})
	}
}

func TestZkmem_FaultAPIRejectsBadInput(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		call func() error
	}{
		{"disconnect unknown", func() error { return f.srv.Disconnect(99) }},
		{"reconnect unknown", func() error { return f.srv.Reconnect(99) }},
		{"expire unknown", func() error { return f.srv.Expire(99) }},
		{"partition unknown", func() error { return f.srv.Partition(98, 99) }},
		{"fail next unknown", func() error { return f.srv.FailNext(99, zkmem.OpGet, zk.ErrNoNode) }},
		{"fail next nil error", func() error { return f.srv.FailNext(f.dial("").SessionID(), zkmem.OpGet, nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, zk.ErrBadArguments) {
				t.Errorf("%v, want ErrBadArguments", err)
			}
		})
	}
}

func TestZkmem_OpHook(t *testing.T) {
	errHeld := errors.New("held")
	f := newFixture(t)
	a, b := f.dial(""), f.dial("")
	type seen struct {
		id   int64
		op   zkmem.OpName
		path string
	}
	var log []seen
	f.srv.SetOpHook(func(id int64, op zkmem.OpName, p string) error {
		log = append(log, seen{id, op, p})
		if p == "/held" && op == zkmem.OpCreate {
			return errHeld
		}
		if op == zkmem.OpSet && id == a.SessionID() {
			// A slow operation: the connection drops and the session times out before the server
			// answers, all on the virtual clock.
			if err := f.srv.Disconnect(id); err != nil {
				return err
			}
			f.clk.Advance(timeout)
		}
		return nil
	})
	f.create(a, "/e", zk.Ephemeral)
	if _, err := b.Create("/held", nil, zk.Persistent); !errors.Is(err, errHeld) || exists(t, b, "/held") {
		t.Errorf("create refused by the hook: %v", err)
	}
	if _, err := a.Set("/e", []byte("x"), -1); !errors.Is(err, zk.ErrConnectionLost) {
		t.Errorf("slow set: %v, want ErrConnectionLost", err)
	}
	if exists(t, b, "/e") {
		t.Errorf("/e survived the expiry of its session")
	}
	if _, err := a.Multi(); !errors.Is(err, zk.ErrConnectionLost) {
		t.Errorf("multi while disconnected: %v", err)
	}
	want := []seen{
		{a.SessionID(), zkmem.OpCreate, "/e"},
		{b.SessionID(), zkmem.OpCreate, "/held"},
		{b.SessionID(), zkmem.OpExists, "/held"},
		{a.SessionID(), zkmem.OpSet, "/e"},
		{b.SessionID(), zkmem.OpExists, "/e"},
	}
	if len(log) != len(want) {
		t.Fatalf("hook saw %v, want %v", log, want)
	}
	for i := range want {
		if log[i] != want[i] {
			t.Errorf("hook call %d: %+v, want %+v", i, log[i], want[i])
		}
	}
}

func TestZkmem_PartitionAndHeal(t *testing.T) {
	f := newFixture(t)
	a, b, c := f.dial(""), f.dial(""), f.dial("")
	if err := f.srv.Partition(a.SessionID(), b.SessionID()); err != nil {
		t.Fatal(err)
	}
	for name, cl := range map[string]client{"a": a, "b": b} {
		if got := cl.states(); !statesEqual(got, []zk.SessionState{zk.StateDisconnected}) {
			t.Errorf("%s: %v", name, got)
		}
	}
	if got := c.states(); len(got) != 0 {
		t.Errorf("c, not partitioned: %v", got)
	}
	var connected []bool
	for _, s := range f.srv.Sessions() {
		connected = append(connected, s.Connected)
	}
	if len(connected) != 3 || connected[0] || connected[1] || !connected[2] {
		t.Errorf("connected: %v", connected)
	}
	f.srv.Heal()
	for name, cl := range map[string]client{"a": a, "b": b} {
		if got := cl.states(); !statesEqual(got, []zk.SessionState{zk.StateConnected}) {
			t.Errorf("%s after heal: %v", name, got)
		}
	}
}
