package zktest

import (
	"reflect"
	"sort"
	"testing"

	"github.com/ochopod/ochopod/runtime/zk"
)

// testChroot: a session dialed with a chroot sees only the subtree under it, with paths relative to it in
// everything it sends and receives; the chroot node must exist beforehand.
func testChroot(t *testing.T, h Harness) {
	base := h.Ensemble.Chroot
	root := dial(t, h, base)
	mustCreate(t, root, "/c1", "", zk.Persistent)
	mustCreate(t, root, "/c2", "", zk.Persistent)
	in1, in2 := dial(t, h, base+"/c1"), dial(t, h, base+"/c2")

	if got := mustCreate(t, in1, "/x", "1", zk.Persistent); got != "/x" {
		t.Errorf("create in the chroot returned %q, want /x", got)
	}
	if got := mustCreate(t, in1, "/s-", "", zk.EphemeralSequential); got != "/s-0000000001" {
		t.Errorf("sequential create in the chroot returned %q, want /s-0000000001", got)
	}
	for p, want := range map[string]bool{"/c1/x": true, "/c2/x": false, "/x": false} {
		if ok, _, err := root.Exists(p); ok != want || err != nil {
			t.Errorf("%s seen from outside: exists %v, %v; want %v", p, ok, err, want)
		}
	}
	if ok, _, err := in2.Exists("/x"); ok || err != nil {
		t.Errorf("/x seen from the sibling chroot: %v, %v", ok, err)
	}
	names, _, err := in1.Children("/")
	must(t, "children / in the chroot", err)
	sort.Strings(names)
	if !reflect.DeepEqual(names, []string{"s-0000000001", "x"}) {
		t.Errorf("children / in the chroot = %v", names)
	}
	if _, st, err := in1.Get("/"); err != nil || st.NumChildren != 2 {
		t.Errorf("get / in the chroot: %+v, %v", st, err)
	}

	_, _, ch, err := in1.ExistsW("/y")
	must(t, "existsw /y", err)
	mustCreate(t, root, "/c1/y", "", zk.Persistent)
	if ev := watchEvent(t, h, ch); ev.Type != zk.EventNodeCreated || ev.Path != "/y" {
		t.Errorf("watch in the chroot: %+v, want created /y", ev)
	}
	res, err := in1.Multi(zk.CreateOp{Path: "/m"}, zk.CreateOp{Path: "/m/s-", Mode: zk.PersistentSequential})
	if err != nil || len(res) != 2 || res[0].Path != "/m" || res[1].Path != "/m/s-0000000000" {
		t.Errorf("multi in the chroot: %+v, %v", res, err)
	}
	if res, err := zk.Fenced(in1, "/x", zk.SetOp{Path: "/x", Data: []byte("2"), Version: 0}); err != nil || len(res) != 1 {
		t.Errorf("fenced in the chroot: %+v, %v", res, err)
	}

	missing := dial(t, h, base+"/nope")
	_, err = missing.Create("/a", nil, zk.Persistent)
	wantErr(t, "create under a missing chroot", err, zk.ErrNoNode)
	if ok, _, err := missing.Exists("/"); ok || err != nil {
		t.Errorf("exists / under a missing chroot: %v, %v; want false, nil", ok, err)
	}
}
