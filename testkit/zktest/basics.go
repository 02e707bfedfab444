package zktest

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/runtime/zk"
)

// testDial: a new session reports StateConnected with its id (checked by dial), only after Connecting, and two
// sessions have different ids.
func testDial(t *testing.T, h Harness) {
	a, b := open(t, h), open(t, h)
	if a.SessionID() == b.SessionID() {
		t.Errorf("two sessions share id %#x", a.SessionID())
	}
	for _, ev := range a.seen {
		if ev.State != zk.StateConnecting && ev.State != zk.StateConnected {
			t.Errorf("event %s before the first StateConnected", ev.State)
		}
	}
}

// testDataAndStat: data reads back, and the Stat fields the project reads follow ZooKeeper's rules.
func testDataAndStat(t *testing.T, h Harness) {
	c := open(t, h)
	if name := mustCreate(t, c, "/d", "hello", zk.Persistent); name != "/d" {
		t.Errorf("create returned %q, want /d", name)
	}
	data, st, err := c.Get("/d")
	must(t, "get /d", err)
	if string(data) != "hello" || st.Version != 0 || st.DataLength != 5 || st.NumChildren != 0 || st.Cversion != 0 ||
		st.EphemeralOwner != 0 || st.Czxid <= 0 || st.Mzxid != st.Czxid {
		t.Errorf("after create: data %q stat %+v", data, st)
	}
	st2, err := c.Set("/d", []byte("world!"), 0)
	must(t, "set /d", err)
	if st2.Version != 1 || st2.DataLength != 6 || st2.Czxid != st.Czxid || st2.Mzxid <= st.Mzxid {
		t.Errorf("after set: stat %+v (was %+v)", st2, st)
	}
	ok, st3, err := c.Exists("/d")
	must(t, "exists /d", err)
	if !ok || st3 != st2 {
		t.Errorf("exists /d: %v %+v, want true %+v", ok, st3, st2)
	}
	if ok, _, err := c.Exists("/missing"); ok || err != nil {
		t.Errorf("exists /missing: %v, %v; want false, nil", ok, err)
	}
	mustCreate(t, c, "/d/child", "", zk.Persistent)
	if _, st, _ := c.Get("/d"); st.NumChildren != 1 || st.Cversion != 1 || st.Version != 1 {
		t.Errorf("parent after a child create: %+v", st)
	}
	mustCreate(t, c, "/e", "x", zk.Ephemeral)
	if _, st, _ := c.Get("/e"); st.EphemeralOwner != c.SessionID() {
		t.Errorf("ephemeral owner %#x, want the session %#x", st.EphemeralOwner, c.SessionID())
	}
	if _, err := c.Create("/empty", nil, zk.Persistent); err != nil {
		t.Fatalf("create with nil data: %v", err)
	}
	if data, st, err := c.Get("/empty"); err != nil || len(data) != 0 || st.DataLength != 0 {
		t.Errorf("get /empty: %q %+v %v", data, st, err)
	}
}

// testNoNullData: nil data, whichever call writes it, lands as the empty string and reads back as an empty,
// non-nil slice; a node never holds null data, which the original's pods fail to decode (DESIGN §3).
func testNoNullData(t *testing.T, h Harness) {
	c := open(t, h)
	_, err := c.Create("/n", nil, zk.Persistent)
	must(t, "create /n with nil data", err)
	mustCreate(t, c, "/s", "x", zk.Persistent)
	_, err = c.Set("/s", nil, zk.AnyVersion)
	must(t, "set /s to nil", err)
	mustCreate(t, c, "/ms", "x", zk.Persistent)
	_, err = c.Multi(zk.CreateOp{Path: "/mc", Data: nil, Mode: zk.Ephemeral}, zk.SetOp{Path: "/ms", Data: nil, Version: zk.AnyVersion})
	must(t, "multi with nil data", err)
	for _, p := range []string{"/n", "/s", "/mc", "/ms"} {
		data, st, err := c.Get(p)
		must(t, "get "+p, err)
		if data == nil || len(data) != 0 || st.DataLength != 0 {
			t.Errorf("%s: data %#v (nil: %v), dataLength %d; want the empty string", p, data, data == nil, st.DataLength)
		}
	}
}

// testSequence: ZooKeeper appends, as 10 zero-padded digits, the number of children ever created under the
// parent: numbers are per parent, shared by every prefix and by plain children, and never reused; deletions do
// not advance them, although the cversion the Stat reports counts deletions too.
func testSequence(t *testing.T, h Harness) {
	a, b := open(t, h), open(t, h)
	mustCreate(t, a, "/p1", "", zk.Persistent)
	mustCreate(t, a, "/p2", "", zk.Persistent)
	steps := []struct {
		c    zk.Conn
		op   string // "create" (sequential) or "delete" or "plain" (non-sequential create)
		path string
		mode zk.CreateMode
		want string
	}{
		{a, "create", "/p1/n-", zk.PersistentSequential, "/p1/n-0000000000"},
		{a, "create", "/p1/n-", zk.EphemeralSequential, "/p1/n-0000000001"},
		{b, "create", "/p1/n-", zk.PersistentSequential, "/p1/n-0000000002"},
		{a, "create", "/p2/n-", zk.PersistentSequential, "/p2/n-0000000000"}, // per parent
		{a, "delete", "/p1/n-0000000002", 0, ""},
		{a, "create", "/p1/n-", zk.PersistentSequential, "/p1/n-0000000003"}, // not reused, the delete not counted
		{a, "plain", "/p1/plain", zk.Persistent, "/p1/plain"},
		{b, "create", "/p1/other-", zk.EphemeralSequential, "/p1/other-0000000005"}, // one counter for all names
	}
	for i, s := range steps {
		switch s.op {
		case "delete":
			must(t, fmt.Sprintf("step %d: delete %s", i, s.path), s.c.Delete(s.path, zk.AnyVersion))
		default:
			got, err := s.c.Create(s.path, nil, s.mode)
			if err != nil {
				t.Fatalf("step %d: create %s: %v", i, s.path, err)
			}
			if got != s.want {
				t.Errorf("step %d: create %s = %q, want %q", i, s.path, got, s.want)
			}
			if s.mode.Sequential() {
				prefix, _, ok := zk.ParseSequential(got)
				if !ok || len(got) != len(s.path)+zk.SequenceDigits || !strings.HasSuffix(s.path, "/"+prefix) {
					t.Errorf("step %d: %q is not %q and %d digits", i, got, s.path, zk.SequenceDigits)
				}
			}
		}
	}
	if _, st, err := a.Get("/p1"); err != nil || st.Cversion != 7 || st.NumChildren != 5 {
		t.Errorf("/p1 stat %+v, %v; want cversion 7 (6 creations, 1 deletion), 5 children", st, err)
	}
}

// testChildren: Children lists the names (not paths) of every child, in no particular order.
func testChildren(t *testing.T, h Harness) {
	c := open(t, h)
	mustCreate(t, c, "/c", "", zk.Persistent)
	for _, n := range []string{"b", "a", "c"} {
		mustCreate(t, c, "/c/"+n, "", zk.Persistent)
	}
	mustCreate(t, c, "/c/e", "", zk.Ephemeral)
	check := func(want ...string) {
		t.Helper()
		names, st, err := c.Children("/c")
		must(t, "children /c", err)
		sort.Strings(names)
		if !reflect.DeepEqual(names, want) || int(st.NumChildren) != len(want) {
			t.Errorf("children /c = %v (numChildren %d), want %v", names, st.NumChildren, want)
		}
	}
	check("a", "b", "c", "e")
	must(t, "delete /c/b", c.Delete("/c/b", zk.AnyVersion))
	check("a", "c", "e")
	if names, _, err := c.Children("/c/a"); err != nil || len(names) != 0 {
		t.Errorf("children of a leaf: %v, %v; want none, nil", names, err)
	}
	_, _, err := c.Children("/nope")
	wantErr(t, "children /nope", err, zk.ErrNoNode)
}

// testGetAll: zk.GetAll (pipelined on a Conn that is a zk.Pipeliner) returns each path's data, stat or error
// in the order of the paths, past the number of reads a pipeliner keeps in flight.
func testGetAll(t *testing.T, h Harness) {
	c := open(t, h)
	mustCreate(t, c, "/g", "", zk.Persistent)
	var paths []string
	for i := range 150 {
		p := fmt.Sprintf("/g/n%03d", i)
		if i%7 != 3 {
			mustCreate(t, c, p, fmt.Sprint(i), zk.Persistent)
		}
		paths = append(paths, p)
	}
	reads := zk.GetAll(c.Conn, paths) // the Conn itself: the session wrapper hides a Pipeliner
	if len(reads) != len(paths) {
		t.Fatalf("%d reads for %d paths", len(reads), len(paths))
	}
	for i, r := range reads {
		if i%7 == 3 {
			wantErr(t, "get "+paths[i], r.Err, zk.ErrNoNode)
			continue
		}
		if r.Err != nil || string(r.Data) != fmt.Sprint(i) || r.Stat.DataLength != int32(len(r.Data)) {
			t.Fatalf("read %s: %q, %+v, %v", paths[i], r.Data, r.Stat, r.Err)
		}
	}
	if reads := zk.GetAll(c.Conn, nil); len(reads) != 0 {
		t.Fatalf("no paths: %v", reads)
	}
}

// testErrors: every failure the project branches on maps to its sentinel.
func testErrors(t *testing.T, h Harness) {
	c := open(t, h)
	mustCreate(t, c, "/x", "data", zk.Persistent)
	mustCreate(t, c, "/x/child", "", zk.Persistent)
	mustCreate(t, c, "/eph", "", zk.Ephemeral)
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"create under a missing parent", func() error { _, err := c.Create("/nope/a", nil, zk.Persistent); return err }, zk.ErrNoNode},
		{"create existing", func() error { _, err := c.Create("/x", nil, zk.Persistent); return err }, zk.ErrNodeExists},
		{"create under an ephemeral", func() error { _, err := c.Create("/eph/a", nil, zk.Persistent); return err }, zk.ErrNoChildrenForEphemerals},
		{"create sequential under an ephemeral", func() error { _, err := c.Create("/eph/s-", nil, zk.EphemeralSequential); return err }, zk.ErrNoChildrenForEphemerals},
		{"get missing", func() error { _, _, err := c.Get("/nope"); return err }, zk.ErrNoNode},
		{"getw missing", func() error { _, _, _, err := c.GetW("/nope"); return err }, zk.ErrNoNode},
		{"childrenw missing", func() error { _, _, _, err := c.ChildrenW("/nope"); return err }, zk.ErrNoNode},
		{"set missing", func() error { _, err := c.Set("/nope", nil, zk.AnyVersion); return err }, zk.ErrNoNode},
		{"delete missing", func() error { return c.Delete("/nope", zk.AnyVersion) }, zk.ErrNoNode},
		{"set with a wrong version", func() error { _, err := c.Set("/x", nil, 3); return err }, zk.ErrBadVersion},
		{"delete with a wrong version", func() error { return c.Delete("/x/child", 3) }, zk.ErrBadVersion},
		{"delete with children", func() error { return c.Delete("/x", zk.AnyVersion) }, zk.ErrNotEmpty},
		{"relative path", func() error { _, _, err := c.Get("x"); return err }, zk.ErrBadArguments},
		{"trailing slash", func() error { _, err := c.Create("/x/", nil, zk.Persistent); return err }, zk.ErrBadArguments},
		{"empty segment", func() error { _, _, err := c.Exists("/x//child"); return err }, zk.ErrBadArguments},
		{"unknown create mode", func() error { _, err := c.Create("/m", nil, zk.CreateMode(42)); return err }, zk.ErrBadArguments},
	}
	for _, tc := range cases {
		err := tc.call()
		wantErr(t, tc.name, err, tc.want)
		if errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrConnectionLost) {
			t.Fatalf("%s: session trouble: %v", tc.name, err)
		}
	}
	if data, st, err := c.Get("/x"); err != nil || string(data) != "data" || st.Version != 0 || st.NumChildren != 1 {
		t.Errorf("/x changed by failed calls: %q %+v %v", data, st, err)
	}
	// The version that matches does work.
	if _, err := c.Set("/x", []byte("v1"), 0); err != nil {
		t.Errorf("set with the current version: %v", err)
	}
	if err := c.Delete("/x/child", 0); err != nil {
		t.Errorf("delete with the current version: %v", err)
	}
}
