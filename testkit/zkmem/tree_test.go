package zkmem_test

import (
	"errors"
	"testing"

	"github.com/ochopod/ochopod/runtime/zk"
)

func TestZkmem_SequenceIsPerParent(t *testing.T) {
	tests := []struct {
		name string
		ops  []string // "c <path>" sequential create, "p <path>" plain create, "d <path>" delete
		want []string // names returned by the creates, in order
	}{
		{"counts from zero", []string{"c /a/n-", "c /a/n-"}, []string{"/a/n-0000000000", "/a/n-0000000001"}},
		{"per parent", []string{"c /a/n-", "c /b/n-", "c /a/n-"}, []string{"/a/n-0000000000", "/b/n-0000000000", "/a/n-0000000001"}},
		{"deletes do not count", []string{"c /a/n-", "d /a/n-0000000000", "c /a/n-"}, []string{"/a/n-0000000000", "/a/n-0000000001"}},
		{"never reused", []string{"c /a/n-", "c /a/n-", "d /a/n-0000000001", "c /a/n-"}, []string{"/a/n-0000000000", "/a/n-0000000001", "/a/n-0000000002"}},
		{"plain children count", []string{"p /a/x", "c /a/n-"}, []string{"/a/x", "/a/n-0000000001"}},
		{"shared by prefixes", []string{"c /a/n-", "c /a/m-"}, []string{"/a/n-0000000000", "/a/m-0000000001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.dial("")
			f.create(c, "/a", zk.Persistent)
			f.create(c, "/b", zk.Persistent)
			var got []string
			for _, op := range tt.ops {
				p := op[2:]
				switch op[0] {
				case 'c':
					name, err := c.Create(p, nil, zk.PersistentSequential)
					if err != nil {
						t.Fatalf("create %s: %v", p, err)
					}
					got = append(got, name)
				case 'p':
					got = append(got, f.create(c, p, zk.Persistent))
				case 'd':
					if err := c.Delete(p, zk.AnyVersion); err != nil {
						t.Fatalf("delete %s: %v", p, err)
					}
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("created %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("create %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestZkmem_FailedMultiLeavesNoTrace(t *testing.T) {
	f := newFixture(t)
	c := f.dial("")
	f.create(c, "/a", zk.Persistent)
	_, before, _ := c.Get("/a")
	_, _, ch, _ := c.ChildrenW("/a")
	zxid := f.srv.Zxid()
	res, err := c.Multi(
		zk.CreateOp{Path: "/a/s-", Mode: zk.PersistentSequential},
		zk.CreateOp{Path: "/a/x"},
		zk.SetOp{Path: "/a", Data: []byte("new"), Version: zk.AnyVersion},
		zk.DeleteOp{Path: "/a/missing", Version: zk.AnyVersion},
	)
	if !errors.Is(err, zk.ErrNoNode) || len(res) != 4 || !errors.Is(res[3].Err, zk.ErrNoNode) ||
		res[0].Err != nil || res[0].Path != "" || res[2].Stat != (zk.Stat{}) {
		t.Fatalf("multi: %+v, %v", res, err)
	}
	data, after, _ := c.Get("/a")
	if after != before || string(data) != "/a" {
		t.Errorf("/a after a failed multi: %q %+v, was %+v", data, after, before)
	}
	if _, ok := pending(ch); ok {
		t.Errorf("a failed multi fired a watch")
	}
	if got := f.srv.Zxid(); got != zxid+1 {
		t.Errorf("zxid %d after a failed multi, want %d (a failed write uses one up, as in ZooKeeper)", got, zxid+1)
	}
	// The sequence counter did not move.
	if name := f.create(c, "/a/s-", zk.PersistentSequential); name != "/a/s-0000000000" {
		t.Errorf("next sequential name %q, want /a/s-0000000000", name)
	}
}

func TestZkmem_MultiRejectsBadOperationsBeforeTheServer(t *testing.T) {
	tests := []struct {
		name string
		op   zk.Op
	}{
		{"pointer operation", &zk.CreateOp{Path: "/x"}},
		{"nil operation", nil},
		{"bad path", zk.SetOp{Path: "x"}},
		{"bad mode", zk.CreateOp{Path: "/x", Mode: 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.dial("")
			zxid := f.srv.Zxid()
			res, err := c.Multi(zk.CreateOp{Path: "/ok"}, tt.op)
			if !errors.Is(err, zk.ErrBadArguments) || len(res) != 2 || !errors.Is(res[1].Err, zk.ErrBadArguments) || res[0].Err != nil {
				t.Errorf("multi: %+v, %v", res, err)
			}
			if f.srv.Zxid() != zxid || exists(t, c, "/ok") {
				t.Errorf("a rejected multi reached the server")
			}
		})
	}
}

func TestZkmem_StatBookkeeping(t *testing.T) {
	f := newFixture(t)
	c := f.dial("")
	f.create(c, "/a", zk.Persistent)
	f.create(c, "/a/b", zk.Persistent)
	f.create(c, "/a/e", zk.Ephemeral)
	if _, err := c.Set("/a", []byte("12345678"), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/a/b", 0); err != nil {
		t.Fatal(err)
	}
	n, ok := f.srv.Node("/a")
	want := zk.Stat{Czxid: 2, Mzxid: 5, Version: 1, Cversion: 3, NumChildren: 1, DataLength: 8}
	if !ok || n.Stat != want || string(n.Data) != "12345678" || len(n.Children) != 1 || n.Children[0] != "e" {
		t.Errorf("/a = %+v, want stat %+v", n, want)
	}
	e, _ := f.srv.Node("/a/e")
	if e.Stat.EphemeralOwner != c.SessionID() || e.Stat.Czxid != 4 {
		t.Errorf("/a/e stat %+v", e.Stat)
	}
}

func TestZkmem_WatchTriggers(t *testing.T) {
	type watchCall func(c zk.Conn) (<-chan zk.WatchEvent, error)
	existsW := func(p string) watchCall {
		return func(c zk.Conn) (<-chan zk.WatchEvent, error) { _, _, ch, err := c.ExistsW(p); return ch, err }
	}
	getW := func(p string) watchCall {
		return func(c zk.Conn) (<-chan zk.WatchEvent, error) { _, _, ch, err := c.GetW(p); return ch, err }
	}
	childrenW := func(p string) watchCall {
		return func(c zk.Conn) (<-chan zk.WatchEvent, error) { _, _, ch, err := c.ChildrenW(p); return ch, err }
	}
	tests := []struct {
		name   string
		watch  watchCall
		act    func(c zk.Conn) error
		want   zk.EventType // 0: must not fire
		wantOn string
	}{
		{"exists missing / create", existsW("/n"), func(c zk.Conn) error { _, err := c.Create("/n", nil, 0); return err }, zk.EventNodeCreated, "/n"},
		{"exists missing / create sibling", existsW("/n"), func(c zk.Conn) error { _, err := c.Create("/m", nil, 0); return err }, 0, ""},
		{"exists / set", existsW("/a"), func(c zk.Conn) error { _, err := c.Set("/a", nil, -1); return err }, zk.EventNodeDataChanged, "/a"},
		{"exists / child create", existsW("/a"), func(c zk.Conn) error { _, err := c.Create("/a/z", nil, 0); return err }, 0, ""},
		{"get / delete", getW("/a/c"), func(c zk.Conn) error { return c.Delete("/a/c", -1) }, zk.EventNodeDeleted, "/a/c"},
		{"get / set child", getW("/a"), func(c zk.Conn) error { _, err := c.Set("/a/c", nil, -1); return err }, 0, ""},
		{"children / child create", childrenW("/a"), func(c zk.Conn) error { _, err := c.Create("/a/z", nil, 0); return err }, zk.EventNodeChildrenChanged, "/a"},
		{"children / child delete", childrenW("/a"), func(c zk.Conn) error { return c.Delete("/a/c", -1) }, zk.EventNodeChildrenChanged, "/a"},
		{"children / node delete", childrenW("/a/c"), func(c zk.Conn) error { return c.Delete("/a/c", -1) }, zk.EventNodeDeleted, "/a/c"},
		{"children / set", childrenW("/a"), func(c zk.Conn) error { _, err := c.Set("/a", nil, -1); return err }, 0, ""},
		{"children / failed create", childrenW("/a"), func(c zk.Conn) error { _, err := c.Create("/a/c", nil, 0); return err }, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			a, b := f.dial(""), f.dial("")
			f.create(b, "/a", zk.Persistent)
			f.create(b, "/a/c", zk.Persistent)
			ch, err := tt.watch(a)
			if err != nil {
				t.Fatal(err)
			}
			_ = tt.act(b)
			ev, ok := pending(ch)
			switch {
			case tt.want == 0 && ok:
				t.Errorf("fired %+v, want nothing", ev)
			case tt.want != 0 && (!ok || ev.Type != tt.want || ev.Path != tt.wantOn):
				t.Errorf("got %+v (%v), want %s on %s", ev, ok, tt.want, tt.wantOn)
			}
			if tt.want != 0 {
				if _, open := <-ch; open {
					t.Errorf("channel still open after its event")
				}
			}
		})
	}
}

func TestZkmem_WatchFailedCallSetsNoWatch(t *testing.T) {
	f := newFixture(t)
	c := f.dial("")
	if _, _, ch, err := c.GetW("/nope"); !errors.Is(err, zk.ErrNoNode) || ch != nil {
		t.Errorf("getw /nope: %v, channel %v", err, ch)
	}
	if _, _, ch, err := c.ChildrenW("/nope"); !errors.Is(err, zk.ErrNoNode) || ch != nil {
		t.Errorf("childrenw /nope: %v, channel %v", err, ch)
	}
	if s := f.srv.Sessions(); s[0].Watches != 0 {
		t.Errorf("%d watches after failed calls", s[0].Watches)
	}
}
