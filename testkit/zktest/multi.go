package zktest

import (
	"errors"
	"sync"
	"testing"

	"github.com/ochopod/ochopod/runtime/zk"
)

// testMulti: a Multi applies all of its operations or none; a failed one says which operation failed
// (nil for the others); the operations of a successful one see each other's effects and share one zxid.
func testMulti(t *testing.T, h Harness) {
	c := open(t, h)
	mustCreate(t, c, "/m", "v0", zk.Persistent)
	_, _, onA, err := c.ExistsW("/m/a")
	must(t, "existsw /m/a", err)

	failing := []struct {
		name    string
		ops     []zk.Op
		failing int
		want    error
	}{
		{"duplicate create", []zk.Op{
			zk.CreateOp{Path: "/m/a"},
			zk.SetOp{Path: "/m", Data: []byte("v1"), Version: 0},
			zk.CreateOp{Path: "/m/a"},
			zk.CreateOp{Path: "/m/b"},
		}, 2, zk.ErrNodeExists},
		{"check of a wrong version", []zk.Op{
			zk.CheckOp{Path: "/m", Version: 5},
			zk.CreateOp{Path: "/m/a"},
		}, 0, zk.ErrBadVersion},
		{"check of a missing node", []zk.Op{
			zk.CreateOp{Path: "/m/a"},
			zk.CheckOp{Path: "/m/nope", Version: zk.AnyVersion},
		}, 1, zk.ErrNoNode},
		{"set with a wrong version", []zk.Op{
			zk.CreateOp{Path: "/m/a"},
			zk.SetOp{Path: "/m", Data: []byte("v1"), Version: 7},
		}, 1, zk.ErrBadVersion},
		{"delete of a non-empty node", []zk.Op{
			zk.CreateOp{Path: "/m/a"},
			zk.DeleteOp{Path: "/m", Version: zk.AnyVersion},
		}, 1, zk.ErrNotEmpty},
		{"child of an ephemeral created in the same multi", []zk.Op{
			zk.CreateOp{Path: "/m/a", Mode: zk.Ephemeral},
			zk.CreateOp{Path: "/m/a/b"},
		}, 1, zk.ErrNoChildrenForEphemerals},
	}
	for _, tc := range failing {
		res, err := c.Multi(tc.ops...)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		if len(res) != len(tc.ops) {
			t.Errorf("%s: %d results for %d operations", tc.name, len(res), len(tc.ops))
			continue
		}
		for i, r := range res {
			switch {
			case i == tc.failing && !errors.Is(r.Err, tc.want):
				t.Errorf("%s: result %d: error %v, want %v", tc.name, i, r.Err, tc.want)
			case i != tc.failing && r.Err != nil:
				t.Errorf("%s: result %d: error %v, want nil (only operation %d failed)", tc.name, i, r.Err, tc.failing)
			}
		}
	}
	if data, st, err := c.Get("/m"); err != nil || string(data) != "v0" || st.Version != 0 || st.NumChildren != 0 || st.Cversion != 0 {
		t.Errorf("/m after failed multis: %q %+v %v; want it untouched", data, st, err)
	}
	if ready(onA) {
		t.Errorf("a failed multi fired a watch")
	}

	res, err := c.Multi(
		zk.CheckOp{Path: "/m", Version: 0},
		zk.CreateOp{Path: "/m/a", Data: []byte("x")},
		zk.CreateOp{Path: "/m/s-", Mode: zk.PersistentSequential},
		zk.SetOp{Path: "/m", Data: []byte("v1"), Version: 0},
		zk.CreateOp{Path: "/m/a/b"},
		zk.DeleteOp{Path: "/m/a/b", Version: zk.AnyVersion},
	)
	if err != nil {
		t.Fatalf("multi: %v", err)
	}
	if len(res) != 6 || res[1].Path != "/m/a" || res[2].Path != "/m/s-0000000001" || res[3].Stat.Version != 1 || res[4].Path != "/m/a/b" {
		t.Errorf("multi results %+v", res)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Errorf("result %d of a successful multi: %v", i, r.Err)
		}
	}
	_, stA, err := c.Get("/m/a")
	must(t, "get /m/a", err)
	_, stS, err := c.Get("/m/s-0000000001")
	must(t, "get /m/s-0000000001", err)
	_, stM, err := c.Get("/m")
	must(t, "get /m", err)
	if stA.Czxid != stS.Czxid || stA.Czxid != stM.Mzxid {
		t.Errorf("one multi, several zxids: /m/a %d, /m/s- %d, /m mzxid %d", stA.Czxid, stS.Czxid, stM.Mzxid)
	}
	if ok, _, _ := c.Exists("/m/a/b"); ok {
		t.Errorf("/m/a/b created and deleted in one multi still exists")
	}
	if ev := watchEvent(t, h, onA); ev.Type != zk.EventNodeCreated || ev.Path != "/m/a" {
		t.Errorf("watch on /m/a: %+v, want created", ev)
	}
	if res, err := c.Multi(); err != nil || len(res) != 0 {
		t.Errorf("empty multi: %v, %v", res, err)
	}
}

// testFenced: zk.Fenced writes while the fence node exists and, once it is gone, fails with ErrFenced (and
// ErrNoNode) and writes nothing: a deposed leader cannot write (DESIGN §3, STYLE 12).
func testFenced(t *testing.T, h Harness) {
	leader, other := open(t, h), open(t, h)
	mustCreate(t, leader, "/lock", "", zk.Persistent)
	fence := mustCreate(t, leader, "/lock/c-", "", zk.EphemeralSequential)
	mustCreate(t, leader, "/data", "0", zk.Persistent)

	res, err := zk.Fenced(leader, fence, zk.SetOp{Path: "/data", Data: []byte("1"), Version: zk.AnyVersion})
	if err != nil || len(res) != 1 || res[0].Stat.Version != 1 {
		t.Fatalf("fenced write while holding: %+v, %v", res, err)
	}
	must(t, "depose", other.Delete(fence, zk.AnyVersion))
	_, err = zk.Fenced(leader, fence,
		zk.SetOp{Path: "/data", Data: []byte("2"), Version: zk.AnyVersion},
		zk.CreateOp{Path: "/data/x"})
	if !errors.Is(err, zk.ErrFenced) || !errors.Is(err, zk.ErrNoNode) {
		t.Errorf("fenced write after losing the fence: %v, want ErrFenced and ErrNoNode", err)
	}
	if data, _, err := leader.Get("/data"); err != nil || string(data) != "1" {
		t.Errorf("/data = %q, %v; want the fenced write not applied", data, err)
	}
	if ok, _, _ := leader.Exists("/data/x"); ok {
		t.Errorf("/data/x created by a fenced multi")
	}
}

// testEnsurePath: zk.EnsurePath creates what is missing, leaves what exists, and concurrent callers do not
// fail each other (DESIGN §5: every pod ensures pods/ and hash on connect).
func testEnsurePath(t *testing.T, h Harness) {
	a, b := open(t, h), open(t, h)
	for i := 0; i < 2; i++ {
		must(t, "ensure /x/y/z", zk.EnsurePath(a, "/x/y/z"))
	}
	must(t, "ensure /x/y/z from another session", zk.EnsurePath(b, "/x/y/z"))
	_, err := a.Set("/x/y", []byte("keep"), zk.AnyVersion)
	must(t, "set /x/y", err)
	must(t, "ensure /x/y", zk.EnsurePath(a, "/x/y"))
	if data, _, err := a.Get("/x/y"); err != nil || string(data) != "keep" {
		t.Errorf("/x/y = %q, %v after EnsurePath; want it untouched", data, err)
	}
	must(t, "ensure /", zk.EnsurePath(a, "/"))
	wantErr(t, "ensure a bad path", zk.EnsurePath(a, "x/y"), zk.ErrBadArguments)

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		c := a.Conn
		if i%2 == 1 {
			c = b.Conn
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = zk.EnsurePath(c, "/q/r/s/t")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent EnsurePath %d: %v", i, err)
		}
	}
	if ok, _, err := a.Exists("/q/r/s/t"); !ok || err != nil {
		t.Errorf("/q/r/s/t: exists %v, %v", ok, err)
	}
}
