package gozk_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/zkproxy"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// Every goroutine of the adapter and of go-zookeeper ends with Close: nothing is ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	// timeout is the session timeout of sessions that are not meant to expire: long enough for a server restart.
	timeout = 10 * time.Second
	// wait bounds every wait for an event: generous, since each ends as soon as the event arrives.
	wait = 30 * time.Second
)

// session is a Conn under test with its event channel, read by the test and drained at cleanup.
type session struct {
	zk.Conn
	t      *testing.T
	events <-chan zk.SessionEvent
	seen   []zk.SessionEvent
	ended  bool
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// tlogWriter sends log lines to t.Log, so they show only for failing tests (or -v).
type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// open dials without waiting for the session. Cleanup closes the Conn and checks that the event channel ends
// with StateClosed.
func open(t *testing.T, servers []string, chroot string, sessionTimeout time.Duration) *session {
	t.Helper()
	d := gozk.New(testLogger(t))
	c, events, err := d.Dial(zk.Ensemble{Servers: servers, Chroot: chroot}, sessionTimeout)
	if err != nil {
		t.Fatalf("dial %v%s: %v", servers, chroot, err)
	}
	s := &session{Conn: c, t: t, events: events}
	t.Cleanup(func() {
		c.Close()
		evs := s.rest()
		if len(evs) == 0 || evs[len(evs)-1].State != zk.StateClosed {
			t.Errorf("session events %v: want closed last", states(evs))
		}
	})
	return s
}

// dial opens a session and waits until it is connected.
func dial(t *testing.T, servers []string, chroot string, sessionTimeout time.Duration) *session {
	t.Helper()
	s := open(t, servers, chroot, sessionTimeout)
	ev := s.await(zk.StateConnected)
	if ev.SessionID == 0 || ev.SessionID != s.SessionID() {
		t.Fatalf("connected with session %#x, SessionID() %#x: want the same, non-zero", ev.SessionID, s.SessionID())
	}
	return s
}

// next reads one event; ok is false once the channel is closed.
func (s *session) next() (zk.SessionEvent, bool) {
	s.t.Helper()
	if s.ended {
		return zk.SessionEvent{}, false
	}
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.ended = true
			return zk.SessionEvent{}, false
		}
		s.t.Logf("session event: %s %#x %s", ev.State, ev.SessionID, ev.Server)
		s.seen = append(s.seen, ev)
		return ev, true
	case <-time.After(wait):
		s.t.Fatalf("no session event within %v (seen: %v)", wait, states(s.seen))
	}
	return zk.SessionEvent{}, false
}

// await reads events until one reports want.
func (s *session) await(want zk.SessionState) zk.SessionEvent {
	s.t.Helper()
	for {
		ev, ok := s.next()
		if !ok {
			s.t.Fatalf("event channel closed while waiting for %s (seen: %v)", want, states(s.seen))
		}
		if ev.State == want {
			return ev
		}
	}
}

// rest reads events until the channel is closed and returns all the session's events.
func (s *session) rest() []zk.SessionEvent {
	s.t.Helper()
	for {
		if _, ok := s.next(); !ok {
			return s.seen
		}
	}
}

func states(evs []zk.SessionEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.State.String()
	}
	return out
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustCreate(t *testing.T, c zk.Conn, p, data string, mode zk.CreateMode) string {
	t.Helper()
	name, err := c.Create(p, []byte(data), mode)
	must(t, "create "+p, err)
	return name
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// watchEvent waits for the one event of a watch and checks that the channel is closed after it.
func watchEvent(t *testing.T, ch <-chan zk.WatchEvent) zk.WatchEvent {
	t.Helper()
	var ev zk.WatchEvent
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatalf("watch channel closed without an event")
		}
		ev = e
	case <-time.After(wait):
		t.Fatalf("no watch event within %v", wait)
	}
	select {
	case e, ok := <-ch:
		if ok {
			t.Fatalf("second event on a one-shot watch: %+v after %+v", e, ev)
		}
	case <-time.After(wait):
		t.Fatalf("watch channel not closed after its event")
	}
	return ev
}

func ready(ch <-chan zk.WatchEvent) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestIntegration_DialRejectsBadArguments(t *testing.T) {
	d := gozk.New(nil)
	for _, tc := range []struct {
		name string
		e    zk.Ensemble
		to   time.Duration
	}{
		{"no servers", zk.Ensemble{}, timeout},
		{"relative chroot", zk.Ensemble{Servers: []string{"127.0.0.1:1"}, Chroot: "a"}, timeout},
		{"chroot with a trailing slash", zk.Ensemble{Servers: []string{"127.0.0.1:1"}, Chroot: "/a/"}, timeout},
		{"root chroot", zk.Ensemble{Servers: []string{"127.0.0.1:1"}, Chroot: "/"}, timeout},
		{"no session timeout", zk.Ensemble{Servers: []string{"127.0.0.1:1"}}, 0},
	} {
		c, events, err := d.Dial(tc.e, tc.to)
		if !errors.Is(err, zk.ErrBadArguments) || c != nil || events != nil {
			t.Errorf("%s: %v, %v, %v; want ErrBadArguments", tc.name, c, events, err)
		}
	}
}

// A server that never answers: Close still ends everything at once, and the session never got connected.
func TestIntegration_CloseWithoutServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, "listen", err)
	addr := ln.Addr().String()
	must(t, "close listener", ln.Close())

	s := open(t, []string{addr, "unresolvable.invalid:2181"}, "", timeout)
	if ev, _ := s.next(); ev.State != zk.StateConnecting || ev.SessionID != 0 {
		t.Errorf("first event %+v, want connecting", ev)
	}
	_, _, ch, err := s.ExistsW("/x")
	if ch != nil || !errors.Is(err, zk.ErrConnectionLost) {
		t.Errorf("existsw without a server: %v, %v; want ErrConnectionLost", ch, err)
	}
	began := time.Now()
	s.Close()
	evs := s.rest()
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("Close and the end of the events took %v", d)
	}
	// Between the first and the end, only the causes of the failed attempts (issue 15), each once.
	if len(evs) == 0 || evs[len(evs)-1].State != zk.StateClosed {
		t.Errorf("events %v, want closed last", states(evs))
	}
	seen := map[string]bool{}
	for _, ev := range evs[1:max(len(evs)-1, 1)] { // the first is the dial's own connecting
		if ev.State != zk.StateConnecting || ev.Err == "" || seen[ev.Err] {
			t.Errorf("event %+v before closed: want connecting with a new cause", ev)
		}
		seen[ev.Err] = true
	}
	if s.SessionID() != 0 {
		t.Errorf("session id %#x without a server", s.SessionID())
	}
}

// Session events of a session's life without faults, Close's effects, and calls after Close.
func TestIntegration_SessionEventsAndClose(t *testing.T) {
	t.Parallel()
	srv := zkserver.Start(t)
	s := open(t, []string{srv.Addr()}, "", timeout)
	if ev, _ := s.next(); ev.State != zk.StateConnecting {
		t.Fatalf("first event %+v, want connecting", ev)
	}
	ev, _ := s.next()
	if ev.State != zk.StateConnected || ev.SessionID == 0 || ev.SessionID != s.SessionID() || ev.Server != srv.Addr() {
		t.Fatalf("second event %+v (SessionID() %#x), want connected to %s", ev, s.SessionID(), srv.Addr())
	}
	sid := s.SessionID()

	_, _, onMissing, err := s.ExistsW("/nothing")
	must(t, "existsw /nothing", err)
	mustCreate(t, s, "/p", "", zk.Persistent)
	_, _, onP, err := s.GetW("/p")
	must(t, "getw /p", err)

	s.Close()
	s.Close()
	if got := states(s.rest()); !reflect.DeepEqual(got, []string{"connecting", "connected", "closed"}) {
		t.Errorf("events %v", got)
	}
	for name, ch := range map[string]<-chan zk.WatchEvent{"existsw /nothing": onMissing, "getw /p": onP} {
		if ev := watchEvent(t, ch); ev.Type != zk.EventNotWatching || !errors.Is(ev.Err, zk.ErrClosed) {
			t.Errorf("%s after Close: %+v, want not-watching with ErrClosed", name, ev)
		}
	}
	if s.SessionID() != sid {
		t.Errorf("SessionID() after Close %#x, want %#x", s.SessionID(), sid)
	}
	calls := map[string]func() error{
		"create":    func() error { _, err := s.Create("/q", nil, zk.Persistent); return err },
		"delete":    func() error { return s.Delete("/p", zk.AnyVersion) },
		"exists":    func() error { _, _, err := s.Exists("/p"); return err },
		"existsw":   func() error { _, _, _, err := s.ExistsW("/p"); return err },
		"get":       func() error { _, _, err := s.Get("/p"); return err },
		"getw":      func() error { _, _, _, err := s.GetW("/p"); return err },
		"children":  func() error { _, _, err := s.Children("/p"); return err },
		"childrenw": func() error { _, _, _, err := s.ChildrenW("/p"); return err },
		"set":       func() error { _, err := s.Set("/p", nil, zk.AnyVersion); return err },
		"multi":     func() error { _, err := s.Multi(zk.CheckOp{Path: "/p", Version: zk.AnyVersion}); return err },
	}
	for name, call := range calls {
		wantErr(t, name+" after Close", call(), zk.ErrClosed)
	}
}

func TestIntegration_CreateModesAndEphemeralsEndWithClose(t *testing.T) {
	t.Parallel()
	srv := zkserver.Start(t)
	servers := []string{srv.Addr()}
	a, b := dial(t, servers, "", timeout), dial(t, servers, "", timeout)
	if a.SessionID() == b.SessionID() {
		t.Fatalf("two sessions share id %#x", a.SessionID())
	}

	if got := mustCreate(t, a, "/p", "persistent", zk.Persistent); got != "/p" {
		t.Errorf("create /p returned %q", got)
	}
	if got := mustCreate(t, a, "/e", "ephemeral", zk.Ephemeral); got != "/e" {
		t.Errorf("create /e returned %q", got)
	}
	// Sequence numbers count every child creation of the parent, whatever the prefix or mode.
	want := []struct {
		c    zk.Conn
		p    string
		mode zk.CreateMode
		want string
	}{
		{a, "/p/s-", zk.PersistentSequential, "/p/s-0000000000"},
		{a, "/p/s-", zk.PersistentSequential, "/p/s-0000000001"},
		{b, "/p/e-", zk.EphemeralSequential, "/p/e-0000000002"},
		{a, "/p/plain", zk.Persistent, "/p/plain"},
		{a, "/p/e-", zk.EphemeralSequential, "/p/e-0000000004"},
	}
	for _, w := range want {
		if got := mustCreate(t, w.c, w.p, "", w.mode); got != w.want {
			t.Errorf("create %s (%v) = %q, want %q", w.p, w.mode, got, w.want)
		}
	}
	if _, seq, ok := zk.ParseSequential("/p/e-0000000004"); !ok || seq != 4 {
		t.Errorf("ParseSequential: %d %v", seq, ok)
	}

	for p, owner := range map[string]int64{"/p": 0, "/e": a.SessionID(), "/p/s-0000000000": 0,
		"/p/e-0000000002": b.SessionID(), "/p/e-0000000004": a.SessionID()} {
		_, st, err := b.Get(p)
		must(t, "get "+p, err)
		if st.EphemeralOwner != owner {
			t.Errorf("%s: ephemeral owner %#x, want %#x", p, st.EphemeralOwner, owner)
		}
	}
	data, st, err := b.Get("/p")
	must(t, "get /p", err)
	if string(data) != "persistent" || st.NumChildren != 5 || st.Cversion != 5 || st.DataLength != 10 || st.Czxid == 0 {
		t.Errorf("/p: %q %+v", data, st)
	}
	_, err = a.Create("/e/child", nil, zk.Persistent)
	wantErr(t, "child of an ephemeral", err, zk.ErrNoChildrenForEphemerals)
	_, err = a.Create("/p/bad", nil, zk.CreateMode(42))
	wantErr(t, "unknown create mode", err, zk.ErrBadArguments)

	// Close ends the session at once: its ephemerals are gone when Close returns, the others stay.
	_, _, onE, err := b.ExistsW("/e")
	must(t, "existsw /e", err)
	a.Close()
	for p, alive := range map[string]bool{"/e": false, "/p/e-0000000004": false, "/p/e-0000000002": true,
		"/p/s-0000000000": true, "/p": true} {
		if ok, _, err := b.Exists(p); ok != alive || err != nil {
			t.Errorf("%s after the owner's Close: exists %v, %v; want %v", p, ok, err, alive)
		}
	}
	if ev := watchEvent(t, onE); ev.Type != zk.EventNodeDeleted || ev.Path != "/e" {
		t.Errorf("watch on /e: %+v, want deleted", ev)
	}
	names, _, err := b.Children("/p")
	must(t, "children /p", err)
	sort.Strings(names)
	if want := []string{"e-0000000002", "plain", "s-0000000000", "s-0000000001"}; !reflect.DeepEqual(names, want) {
		t.Errorf("children of /p %v, want %v", names, want)
	}
}

func TestIntegration_Chroot(t *testing.T) {
	t.Parallel()
	srv := zkserver.Start(t)
	servers := []string{srv.Addr()}
	root := dial(t, servers, "", timeout)
	must(t, "ensure the chroot", zk.EnsurePath(root, "/apps/one"))
	in := dial(t, servers, "/apps/one", timeout)
	sibling := dial(t, servers, "/apps", timeout)

	if got := mustCreate(t, in, "/x", "1", zk.Persistent); got != "/x" {
		t.Errorf("create /x under the chroot returned %q", got)
	}
	if got := mustCreate(t, in, "/x/s-", "", zk.EphemeralSequential); got != "/x/s-0000000000" {
		t.Errorf("sequential create under the chroot returned %q", got)
	}
	for p, want := range map[string]bool{"/apps/one/x": true, "/apps/one/x/s-0000000000": true, "/x": false} {
		if ok, _, err := root.Exists(p); ok != want || err != nil {
			t.Errorf("%s seen without chroot: exists %v, %v; want %v", p, ok, err, want)
		}
	}
	if ok, _, err := sibling.Exists("/one/x"); !ok || err != nil {
		t.Errorf("/one/x seen from /apps: %v, %v", ok, err)
	}
	if _, st, err := in.Get("/"); err != nil || st.NumChildren != 1 {
		t.Errorf("get / under the chroot: %+v, %v", st, err)
	}
	if names, _, err := in.Children("/"); err != nil || !reflect.DeepEqual(names, []string{"x"}) {
		t.Errorf("children / under the chroot: %v, %v", names, err)
	}

	// Watch events carry chroot-relative paths.
	_, _, onY, err := in.ExistsW("/y")
	must(t, "existsw /y", err)
	_, _, onX, err := in.ChildrenW("/x")
	must(t, "childrenw /x", err)
	mustCreate(t, root, "/apps/one/y", "", zk.Persistent)
	mustCreate(t, root, "/apps/one/x/z", "", zk.Persistent)
	if ev := watchEvent(t, onY); ev.Type != zk.EventNodeCreated || ev.Path != "/y" {
		t.Errorf("existsw under the chroot: %+v, want created /y", ev)
	}
	if ev := watchEvent(t, onX); ev.Type != zk.EventNodeChildrenChanged || ev.Path != "/x" {
		t.Errorf("childrenw under the chroot: %+v, want children-changed /x", ev)
	}

	// And so do a Multi's results.
	res, err := in.Multi(zk.CreateOp{Path: "/m"}, zk.CreateOp{Path: "/m/s-", Mode: zk.PersistentSequential},
		zk.SetOp{Path: "/x", Data: []byte("2"), Version: 0})
	if err != nil || len(res) != 3 || res[0].Path != "/m" || res[1].Path != "/m/s-0000000000" || res[2].Stat.Version != 1 {
		t.Errorf("multi under the chroot: %+v, %v", res, err)
	}
	if ok, _, err := root.Exists("/apps/one/m/s-0000000000"); !ok || err != nil {
		t.Errorf("multi's node seen without chroot: %v, %v", ok, err)
	}
	res, err = zk.Fenced(in, "/x", zk.SetOp{Path: "/x", Data: []byte("3"), Version: 1})
	if err != nil || len(res) != 1 || res[0].Stat.Version != 2 {
		t.Errorf("fenced under the chroot: %+v, %v", res, err)
	}
	must(t, "ensure a path under the chroot", zk.EnsurePath(in, "/deep/er"))
	if ok, _, err := root.Exists("/apps/one/deep/er"); !ok || err != nil {
		t.Errorf("EnsurePath under the chroot: %v, %v", ok, err)
	}

	// Errors name the chroot-relative path.
	_, _, err = in.Get("/missing")
	wantErr(t, "get /missing", err, zk.ErrNoNode)
	if err == nil || !strings.Contains(err.Error(), "get /missing:") || strings.Contains(err.Error(), "/apps") {
		t.Errorf("error text %q", err)
	}

	// Ephemerals created under the chroot die with the session.
	in.Close()
	if ok, _, err := root.Exists("/apps/one/x/s-0000000000"); ok || err != nil {
		t.Errorf("ephemeral under the chroot after Close: %v, %v", ok, err)
	}

	// The chroot is not created by the adapter: under a missing one, calls fail with ErrNoNode.
	missing := dial(t, servers, "/nope", timeout)
	_, err = missing.Create("/a", nil, zk.Persistent)
	wantErr(t, "create under a missing chroot", err, zk.ErrNoNode)
	if ok, _, err := root.Exists("/nope"); ok || err != nil {
		t.Errorf("missing chroot was created: %v, %v", ok, err)
	}
}

func TestIntegration_ErrorMapping(t *testing.T) {
	t.Parallel()
	srv := zkserver.Start(t)
	c := dial(t, []string{srv.Addr()}, "", timeout)
	mustCreate(t, c, "/p", "", zk.Persistent)
	mustCreate(t, c, "/p/c", "", zk.Persistent)
	mustCreate(t, c, "/e", "", zk.Ephemeral)

	cases := []struct {
		name string
		err  error
		want error
		text string // the error text starts with it
	}{
		{"get missing", func() error { _, _, err := c.Get("/missing"); return err }(), zk.ErrNoNode, "get /missing: zk: node does not exist"},
		{"getw missing", func() error { _, _, _, err := c.GetW("/missing"); return err }(), zk.ErrNoNode, "get /missing:"},
		{"children missing", func() error { _, _, err := c.Children("/missing"); return err }(), zk.ErrNoNode, "children /missing:"},
		{"childrenw missing", func() error { _, _, _, err := c.ChildrenW("/missing"); return err }(), zk.ErrNoNode, "children /missing:"},
		{"set missing", func() error { _, err := c.Set("/missing", nil, zk.AnyVersion); return err }(), zk.ErrNoNode, "set /missing:"},
		{"delete missing", c.Delete("/missing", zk.AnyVersion), zk.ErrNoNode, "delete /missing:"},
		{"create without parent", func() error { _, err := c.Create("/missing/x", nil, zk.Persistent); return err }(), zk.ErrNoNode, "create /missing/x:"},
		{"create existing", func() error { _, err := c.Create("/p", nil, zk.Persistent); return err }(), zk.ErrNodeExists, "create /p: zk: node already exists"},
		{"set bad version", func() error { _, err := c.Set("/p", nil, 3); return err }(), zk.ErrBadVersion, "set /p: zk: version conflict"},
		{"delete bad version", c.Delete("/p/c", 3), zk.ErrBadVersion, "delete /p/c:"},
		{"delete non-empty", c.Delete("/p", zk.AnyVersion), zk.ErrNotEmpty, "delete /p: zk: node has children"},
		{"child of ephemeral", func() error { _, err := c.Create("/e/x", nil, zk.Persistent); return err }(), zk.ErrNoChildrenForEphemerals, "create /e/x:"},
		{"relative path", func() error { _, _, err := c.Get("p"); return err }(), zk.ErrBadArguments, "get:"},
		{"trailing slash", func() error { _, err := c.Create("/p/", nil, zk.PersistentSequential); return err }(), zk.ErrBadArguments, "create:"},
		{"empty segment", func() error { _, _, err := c.Exists("/p//c"); return err }(), zk.ErrBadArguments, "exists:"},
		{"dot segment", c.Delete("/p/..", zk.AnyVersion), zk.ErrBadArguments, "delete:"},
		{"multi bad path", func() error { _, err := c.Multi(zk.CheckOp{Path: "x"}); return err }(), zk.ErrBadArguments, "multi:"},
	}
	for _, tc := range cases {
		wantErr(t, tc.name, tc.err, tc.want)
		if tc.err != nil && !strings.HasPrefix(tc.err.Error(), tc.text) {
			t.Errorf("%s: error text %q, want it to start with %q", tc.name, tc.err, tc.text)
		}
		for _, other := range []error{zk.ErrNoNode, zk.ErrNodeExists, zk.ErrBadVersion, zk.ErrNotEmpty,
			zk.ErrNoChildrenForEphemerals, zk.ErrSessionExpired, zk.ErrConnectionLost, zk.ErrClosed, zk.ErrBadArguments} {
			if other != tc.want && errors.Is(tc.err, other) {
				t.Errorf("%s: error %v also matches %v", tc.name, tc.err, other)
			}
		}
	}
	// Nothing was changed by the failed calls.
	if _, st, err := c.Get("/p"); err != nil || st.Version != 0 || st.NumChildren != 1 {
		t.Errorf("/p after failed calls: %+v, %v", st, err)
	}
	// Exists of a missing node is no error.
	if ok, st, err := c.Exists("/missing"); ok || err != nil || st != (zk.Stat{}) {
		t.Errorf("exists /missing: %v %+v %v", ok, st, err)
	}
}

func TestIntegration_WatchesFireOnceWithTheirType(t *testing.T) {
	t.Parallel()
	srv := zkserver.Start(t)
	servers := []string{srv.Addr()}
	a, b := dial(t, servers, "", timeout), dial(t, servers, "", timeout)
	mustCreate(t, b, "/d", "", zk.Persistent)
	mustCreate(t, b, "/gone", "", zk.Persistent)
	mustCreate(t, b, "/kids", "", zk.Persistent)

	ok, _, onCreate, err := a.ExistsW("/new")
	must(t, "existsw /new", err)
	if ok {
		t.Fatalf("/new exists")
	}
	_, _, onData, err := a.GetW("/d")
	must(t, "getw /d", err)
	ok, _, onExistsData, err := a.ExistsW("/d")
	must(t, "existsw /d", err)
	if !ok {
		t.Fatalf("/d does not exist")
	}
	_, _, onGone, err := a.GetW("/gone")
	must(t, "getw /gone", err)
	_, _, onGoneExists, err := a.ExistsW("/gone")
	must(t, "existsw /gone", err)
	_, _, onKids, err := a.ChildrenW("/kids")
	must(t, "childrenw /kids", err)
	_, _, onKidsData, err := a.GetW("/kids")
	must(t, "getw /kids", err)

	mustCreate(t, b, "/new", "", zk.Persistent)
	_, err = b.Set("/d", []byte("1"), zk.AnyVersion)
	must(t, "set /d", err)
	must(t, "delete /gone", b.Delete("/gone", zk.AnyVersion))
	mustCreate(t, b, "/kids/k", "", zk.Persistent)

	for name, w := range map[string]struct {
		ch   <-chan zk.WatchEvent
		typ  zk.EventType
		path string
	}{
		"existsw on a missing node": {onCreate, zk.EventNodeCreated, "/new"},
		"getw, then set":            {onData, zk.EventNodeDataChanged, "/d"},
		"existsw, then set":         {onExistsData, zk.EventNodeDataChanged, "/d"},
		"getw, then delete":         {onGone, zk.EventNodeDeleted, "/gone"},
		"existsw, then delete":      {onGoneExists, zk.EventNodeDeleted, "/gone"},
		"childrenw, then a child":   {onKids, zk.EventNodeChildrenChanged, "/kids"},
	} {
		if ev := watchEvent(t, w.ch); ev.Type != w.typ || ev.Path != w.path || ev.Err != nil {
			t.Errorf("%s: %+v, want %s %s", name, ev, w.typ, w.path)
		}
	}
	// One-shot: a second change fires nothing (the channels above are closed); a new watch sees the next one.
	_, _, again, err := a.GetW("/d")
	must(t, "getw /d again", err)
	_, err = b.Set("/d", []byte("2"), zk.AnyVersion)
	must(t, "set /d again", err)
	if ev := watchEvent(t, again); ev.Type != zk.EventNodeDataChanged {
		t.Errorf("second watch on /d: %+v", ev)
	}
	// The data watch on /kids saw no change: a child does not change the parent's data.
	if _, _, err := a.Get("/kids"); err != nil || ready(onKidsData) {
		t.Errorf("getw /kids fired on a child creation (get: %v)", err)
	}
	must(t, "delete /kids/k", b.Delete("/kids/k", zk.AnyVersion))
	must(t, "delete /kids", b.Delete("/kids", zk.AnyVersion))
	if ev := watchEvent(t, onKidsData); ev.Type != zk.EventNodeDeleted || ev.Path != "/kids" {
		t.Errorf("getw /kids after delete: %+v", ev)
	}
}

// ZooKeeper's ordering guarantee in channel form: once a call returned data newer than a change a watch
// covers, the watch's event is already in its channel.
func TestIntegration_WatchEventIsReadyBeforeTheNewData(t *testing.T) {
	t.Parallel()
	srv := zkserver.Start(t)
	servers := []string{srv.Addr()}
	a, b := dial(t, servers, "", timeout), dial(t, servers, "", timeout)
	mustCreate(t, b, "/n", "0", zk.Persistent)
	for i := 1; i <= 50; i++ {
		_, _, ch, err := a.GetW("/n")
		must(t, "getw /n", err)
		_, err = b.Set("/n", []byte(strconv.Itoa(i)), zk.AnyVersion)
		must(t, "set /n", err)
		deadline := time.Now().Add(wait)
		for {
			data, _, err := a.Get("/n")
			must(t, "get /n", err)
			if string(data) == strconv.Itoa(i) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: new data not visible within %v", i, wait)
			}
		}
		if !ready(ch) {
			t.Fatalf("round %d: the new data was read before the watch event was in its channel", i)
		}
	}
}

func TestIntegration_MultiIsAtomicAndFenced(t *testing.T) {
	t.Parallel()
	srv := zkserver.Start(t)
	servers := []string{srv.Addr()}
	c, other := dial(t, servers, "", timeout), dial(t, servers, "", timeout)
	mustCreate(t, c, "/m", "v0", zk.Persistent)
	_, _, onA, err := c.ExistsW("/m/a")
	must(t, "existsw /m/a", err)

	res, err := c.Multi(
		zk.CreateOp{Path: "/m/a"},
		zk.SetOp{Path: "/m", Data: []byte("v1"), Version: 0},
		zk.CheckOp{Path: "/m/missing", Version: zk.AnyVersion},
		zk.CreateOp{Path: "/m/b"},
	)
	wantErr(t, "multi with a failing check", err, zk.ErrNoNode)
	if err != nil && !strings.Contains(err.Error(), "/m/missing") {
		t.Errorf("multi error %q does not name the failing operation's path", err)
	}
	if len(res) != 4 {
		t.Fatalf("%d results for 4 operations: %+v", len(res), res)
	}
	for i, r := range res {
		if (i == 2) != (r.Err != nil) || (i == 2 && !errors.Is(r.Err, zk.ErrNoNode)) {
			t.Errorf("result %d: %v", i, r.Err)
		}
	}
	for _, tc := range []struct {
		op   zk.Op
		want error
	}{
		{zk.CheckOp{Path: "/m", Version: 4}, zk.ErrBadVersion},
		{zk.SetOp{Path: "/m", Version: 4}, zk.ErrBadVersion},
		{zk.CreateOp{Path: "/m"}, zk.ErrNodeExists},
		{zk.DeleteOp{Path: "/m", Version: zk.AnyVersion}, zk.ErrNotEmpty}, // /m/a is created first
	} {
		res, err := c.Multi(zk.CreateOp{Path: "/m/a"}, tc.op)
		wantErr(t, fmt.Sprintf("multi with %+v", tc.op), err, tc.want)
		if len(res) != 2 || res[0].Err != nil || !errors.Is(res[1].Err, tc.want) {
			t.Errorf("multi with %+v: results %+v", tc.op, res)
		}
	}
	if data, st, err := other.Get("/m"); err != nil || string(data) != "v0" || st.Version != 0 || st.NumChildren != 0 {
		t.Errorf("/m after failed multis: %q %+v %v", data, st, err)
	}
	if ready(onA) {
		t.Errorf("a failed multi fired a watch")
	}

	res, err = c.Multi(
		zk.CheckOp{Path: "/m", Version: 0},
		zk.CreateOp{Path: "/m/a", Data: []byte("x")},
		zk.CreateOp{Path: "/m/s-", Mode: zk.PersistentSequential},
		zk.SetOp{Path: "/m", Data: []byte("v1"), Version: 0},
		zk.DeleteOp{Path: "/m/a", Version: 0},
	)
	must(t, "multi", err)
	if len(res) != 5 || res[1].Path != "/m/a" || res[2].Path != "/m/s-0000000001" || res[3].Stat.Version != 1 {
		t.Errorf("multi results %+v", res)
	}
	if ev := watchEvent(t, onA); ev.Type != zk.EventNodeCreated || ev.Path != "/m/a" {
		t.Errorf("watch on /m/a: %+v", ev)
	}
	if res, err := c.Multi(); err != nil || len(res) != 0 {
		t.Errorf("empty multi: %v, %v", res, err)
	}

	// Fenced: writes while the fence exists, nothing once it is gone.
	mustCreate(t, c, "/lock", "", zk.Ephemeral)
	res, err = zk.Fenced(c, "/lock", zk.SetOp{Path: "/m", Data: []byte("v2"), Version: zk.AnyVersion},
		zk.CreateOp{Path: "/m/f"})
	if err != nil || len(res) != 2 || res[0].Stat.Version != 2 || res[1].Path != "/m/f" {
		t.Errorf("fenced write: %+v, %v", res, err)
	}
	must(t, "delete the fence", other.Delete("/lock", zk.AnyVersion))
	_, err = zk.Fenced(c, "/lock", zk.SetOp{Path: "/m", Data: []byte("v3"), Version: zk.AnyVersion},
		zk.CreateOp{Path: "/m/g"})
	if !errors.Is(err, zk.ErrFenced) || !errors.Is(err, zk.ErrNoNode) {
		t.Errorf("fenced write without the fence: %v, want ErrFenced and ErrNoNode", err)
	}
	if data, _, err := other.Get("/m"); err != nil || string(data) != "v2" {
		t.Errorf("/m after a rejected fenced write: %q, %v", data, err)
	}
	if ok, _, err := other.Exists("/m/g"); ok || err != nil {
		t.Errorf("/m/g after a rejected fenced write: %v, %v", ok, err)
	}
}

// A server restart within the session timeout: the client reconnects to the same session, its ephemeral
// node and its watches survive (ZooKeeper restores sessions from its data on restart).
func TestIntegration_ServerRestartKeepsTheSession(t *testing.T) {
	t.Parallel()
	srv := zkserver.Start(t)
	servers := []string{srv.Addr()}
	a := dial(t, servers, "", timeout)
	sid := a.SessionID()
	mustCreate(t, a, "/e", "", zk.Ephemeral)
	mustCreate(t, a, "/d", "", zk.Persistent)
	_, _, onD, err := a.GetW("/d")
	must(t, "getw /d", err)

	must(t, "stop the server", srv.Stop())
	if ev := a.await(zk.StateDisconnected); ev.SessionID != sid {
		t.Errorf("disconnected event %+v, want session %#x", ev, sid)
	}
	_, _, err = a.Get("/d")
	wantErr(t, "get while the server is down", err, zk.ErrConnectionLost)
	must(t, "restart the server", srv.Restart(t.Context()))
	if ev := a.await(zk.StateConnected); ev.SessionID != sid || a.SessionID() != sid {
		t.Errorf("reconnected with %+v (SessionID() %#x), want session %#x", ev, a.SessionID(), sid)
	}
	if ready(onD) {
		t.Errorf("a watch fired on reconnection")
	}
	b := dial(t, servers, "", timeout)
	if ok, st, err := b.Exists("/e"); !ok || err != nil || st.EphemeralOwner != sid {
		t.Errorf("/e after the restart: %v owner %#x, %v", ok, st.EphemeralOwner, err)
	}
	_, err = b.Set("/d", []byte("x"), zk.AnyVersion)
	must(t, "set /d", err)
	if ev := watchEvent(t, onD); ev.Type != zk.EventNodeDataChanged || ev.Path != "/d" {
		t.Errorf("watch kept over the restart: %+v", ev)
	}
	a.Close()
	for _, ev := range a.rest() {
		if ev.State == zk.StateExpired {
			t.Errorf("expired after a short restart")
		}
	}
}

// An ensemble: losing the server the client is connected to moves the session to another member.
func TestIntegration_EnsembleFailoverKeepsTheSession(t *testing.T) {
	t.Parallel()
	ens := zkserver.StartEnsemble(t, 3)
	a := open(t, ens.Servers(), "", timeout)
	ev := a.await(zk.StateConnected)
	sid := ev.SessionID
	mustCreate(t, a, "/e", "", zk.Ephemeral)

	var current *zkserver.Server
	for _, m := range ens.Members() {
		if m.Addr() == ev.Server {
			current = m
		}
	}
	if current == nil {
		t.Fatalf("connected to %q, not a member of %v", ev.Server, ens.Servers())
	}
	must(t, "stop "+current.Addr(), current.Stop())
	a.await(zk.StateDisconnected)
	ev = a.await(zk.StateConnected)
	if ev.SessionID != sid || ev.Server == current.Addr() {
		t.Errorf("reconnected with %+v, want session %#x on another server than %s", ev, sid, current.Addr())
	}
	if ok, st, err := a.Exists("/e"); !ok || err != nil || st.EphemeralOwner != sid {
		t.Errorf("/e after failover: %v owner %#x, %v", ok, st.EphemeralOwner, err)
	}
}

var sidRE = regexp.MustCompile(`sid=0x([0-9a-f]+)`)

// sessionsOnServer lists the session ids of the server's client connections (the cons four-letter word).
func sessionsOnServer(t *testing.T, srv *zkserver.Server) map[int64]bool {
	t.Helper()
	out, err := srv.FourLetter("cons")
	must(t, "cons", err)
	ids := map[int64]bool{}
	for _, m := range sidRE.FindAllStringSubmatch(out, -1) {
		id, err := strconv.ParseUint(m[1], 16, 64)
		must(t, "parse "+m[0], err)
		if id != 0 {
			ids[int64(id)] = true
		}
	}
	return ids
}

func newProxy(t *testing.T, target string) *zkproxy.Proxy {
	t.Helper()
	p, err := zkproxy.New(target)
	must(t, "start the proxy", err)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close the proxy: %v", err)
		}
	})
	return p
}

// A connection lost and restored within the session timeout: Disconnected, then Connected with the same
// session; the ephemeral node stays, watches stay and report a change made meanwhile (DESIGN §5).
func TestIntegration_ShortDisconnectKeepsTheSession(t *testing.T) {
	t.Parallel()
	srv := zkserver.Start(t)
	px := newProxy(t, srv.Addr())
	a := dial(t, []string{px.Addr()}, "", timeout)
	b := dial(t, []string{srv.Addr()}, "", timeout)
	sid := a.SessionID()
	mustCreate(t, a, "/p", "v0", zk.Persistent)
	mustCreate(t, a, "/p/e", "", zk.Ephemeral)
	_, _, onData, err := a.GetW("/p")
	must(t, "getw /p", err)
	_, _, onQuiet, err := a.ChildrenW("/p/e")
	must(t, "childrenw /p/e", err)

	px.Refuse(true)
	px.Cut()
	if ev := a.await(zk.StateDisconnected); ev.SessionID != sid {
		t.Errorf("disconnected %+v, want session %#x", ev, sid)
	}
	// Calls fail while no server can be reached (go-zookeeper fails queued calls once it tried every server).
	_, _, err = a.Get("/p")
	wantErr(t, "get during the outage", err, zk.ErrConnectionLost)
	if ok, st, err := b.Exists("/p/e"); !ok || err != nil || st.EphemeralOwner != sid {
		t.Errorf("/p/e during the outage: %v owner %#x, %v", ok, st.EphemeralOwner, err)
	}
	_, err = b.Set("/p", []byte("v1"), zk.AnyVersion)
	must(t, "set /p during the outage", err)
	time.Sleep(2 * time.Second) // hold the outage, well within the session timeout
	px.Refuse(false)

	if ev := a.await(zk.StateConnected); ev.SessionID != sid || a.SessionID() != sid {
		t.Errorf("reconnected %+v (SessionID() %#x), want session %#x", ev, a.SessionID(), sid)
	}
	if ev := watchEvent(t, onData); ev.Type != zk.EventNodeDataChanged || ev.Path != "/p" {
		t.Errorf("watch set before the outage: %+v, want data-changed /p", ev)
	}
	if ready(onQuiet) {
		t.Errorf("a watch whose node did not change fired on reconnection")
	}
	if ok, st, err := b.Exists("/p/e"); !ok || err != nil || st.EphemeralOwner != sid {
		t.Errorf("/p/e after the outage: %v owner %#x, %v", ok, st.EphemeralOwner, err)
	}
	if data, _, err := a.Get("/p"); err != nil || string(data) != "v1" {
		t.Errorf("get /p after the outage: %q, %v", data, err)
	}

	// A second outage, by silence this time and shorter than the client's receive timeout (2/3 of the
	// session timeout): nothing to see, a call made meanwhile completes when the link comes back.
	px.Pause()
	got := make(chan error, 1)
	go func() {
		_, err := a.Set("/p", []byte("v2"), zk.AnyVersion)
		got <- err
	}()
	time.Sleep(time.Second) // hold the pause
	px.Resume()
	select {
	case err := <-got:
		must(t, "set /p across a brief pause", err)
	case <-time.After(wait):
		t.Fatalf("set /p across a brief pause did not return within %v", wait)
	}
	select {
	case ev := <-a.events:
		t.Errorf("session event %+v after a brief pause", ev)
	default:
	}
	a.Close()
	for _, ev := range a.rest() {
		if ev.State == zk.StateExpired {
			t.Errorf("expired after a short outage")
		}
	}
}

// A partition longer than the session timeout: the server expires the session and deletes its ephemeral
// node; when the link comes back the client reports Expired exactly once, then Closed, and its channel
// closes; every call fails with ErrSessionExpired; go-zookeeper does not get to open a new session.
func TestIntegration_ExpiryEndsTheConn(t *testing.T) {
	t.Parallel()
	const short = 2 * time.Second
	srv := zkserver.Start(t)
	px := newProxy(t, srv.Addr())
	a := dial(t, []string{px.Addr()}, "", short)
	b := dial(t, []string{srv.Addr()}, "", timeout)
	sid := a.SessionID()
	mustCreate(t, a, "/p", "", zk.Persistent)
	mustCreate(t, a, "/p/e", "", zk.Ephemeral)
	_, _, own, err := a.ChildrenW("/p")
	must(t, "childrenw /p", err)
	ok, _, onE, err := b.ExistsW("/p/e")
	if !ok || err != nil {
		t.Fatalf("existsw /p/e: %v, %v", ok, err)
	}

	px.Pause()
	if ev := a.await(zk.StateDisconnected); ev.SessionID != sid {
		t.Errorf("disconnected %+v, want session %#x", ev, sid)
	}
	// The server expires the session: its ephemeral node goes.
	if ev := watchEvent(t, onE); ev.Type != zk.EventNodeDeleted || ev.Path != "/p/e" {
		t.Errorf("other session's watch on /p/e: %+v, want deleted", ev)
	}
	px.Resume()

	if ev := a.await(zk.StateExpired); ev.SessionID != sid {
		t.Errorf("expired %+v, want session %#x", ev, sid)
	}
	evs := a.rest() // the channel closes without Close
	expired := 0
	for i, ev := range evs {
		if ev.State == zk.StateExpired {
			expired++
			if got := states(evs[i+1:]); !reflect.DeepEqual(got, []string{"closed"}) {
				t.Errorf("events after expired: %v, want [closed]", got)
			}
		}
	}
	if expired != 1 {
		t.Errorf("events %v: want exactly one expired", states(evs))
	}
	if ev := watchEvent(t, own); ev.Type != zk.EventNotWatching || !errors.Is(ev.Err, zk.ErrSessionExpired) || ev.Path != "/p" {
		t.Errorf("expired session's watch: %+v, want not-watching /p with ErrSessionExpired", ev)
	}
	calls := map[string]func() error{
		"create":    func() error { _, err := a.Create("/q", nil, zk.Persistent); return err },
		"delete":    func() error { return a.Delete("/p", zk.AnyVersion) },
		"exists":    func() error { _, _, err := a.Exists("/p"); return err },
		"existsw":   func() error { _, _, _, err := a.ExistsW("/p"); return err },
		"get":       func() error { _, _, err := a.Get("/p"); return err },
		"getw":      func() error { _, _, _, err := a.GetW("/p"); return err },
		"children":  func() error { _, _, err := a.Children("/p"); return err },
		"childrenw": func() error { _, _, _, err := a.ChildrenW("/p"); return err },
		"set":       func() error { _, err := a.Set("/p", nil, zk.AnyVersion); return err },
		"multi":     func() error { _, err := a.Multi(zk.CheckOp{Path: "/p", Version: zk.AnyVersion}); return err },
	}
	for name, call := range calls {
		wantErr(t, name+" after expiry", call(), zk.ErrSessionExpired)
	}
	if a.SessionID() != sid {
		t.Errorf("SessionID() after expiry %#x, want %#x", a.SessionID(), sid)
	}
	// No session but b's (and the dead one, whose connection the server may not have dropped yet).
	for id := range sessionsOnServer(t, srv) {
		if id != b.SessionID() && id != sid {
			t.Errorf("session %#x on the server after the expiry: go-zookeeper opened a new session", id)
		}
	}
	if ok, _, err := b.Exists("/p/e"); ok || err != nil {
		t.Errorf("/p/e after expiry: %v, %v", ok, err)
	}
	if ok, _, err := b.Exists("/q"); ok || err != nil {
		t.Errorf("/q created after expiry: %v, %v", ok, err)
	}
	a.Close()
	a.Close()
	if _, _, err := a.Get("/p"); !errors.Is(err, zk.ErrSessionExpired) || !zk.IsSessionGone(err) {
		t.Errorf("get after expiry and Close: %v, want ErrSessionExpired", err)
	}
}

// The shared conformance suite runs against this adapter on a real server in testkit/zktest (real_test.go).

// A packet near ZooKeeper's default limit goes both ways with the default buffers; one past them is refused
// with an error and the session carries on. A Dialer whose MaxPacket was raised, to a server whose
// jute.maxbuffer was, carries bigger ones.
func TestIntegration_PacketsUpToTheLimit(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, c zk.Conn, size int) {
		t.Helper()
		data := bytes.Repeat([]byte{'x'}, size)
		data[size-1] = 'y'
		mustCreate(t, c, "/big", string(data), zk.Persistent)
		got, _, err := c.Get("/big")
		must(t, "get /big", err)
		if !bytes.Equal(got, data) {
			t.Fatalf("get /big: %d bytes back for %d sent", len(got), size)
		}
	}
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		srv := zkserver.Start(t)
		c := dial(t, []string{srv.Addr()}, "", timeout)
		check(t, c, gozk.DefaultMaxPacket-100) // path, ACL and headers take the rest
		if _, err := c.Create("/bigger", make([]byte, gozk.DefaultMaxPacket), zk.Persistent); err == nil {
			t.Fatalf("create of %d bytes: no error, want the packet refused", gozk.DefaultMaxPacket)
		}
		if ok, _, err := c.Exists("/big"); !ok || err != nil {
			t.Fatalf("after the refused packet: exists /big %v, %v", ok, err)
		}
	})
	t.Run("raised", func(t *testing.T) {
		t.Parallel()
		const limit = 3 << 20
		srv := zkserver.Start(t, zkserver.WithJVMFlags(append(zkserver.DefaultJVMFlags(), fmt.Sprintf("-Djute.maxbuffer=%d", limit))...))
		d := gozk.New(testLogger(t))
		d.MaxPacket = limit
		c, events, err := d.Dial(zk.Ensemble{Servers: []string{srv.Addr()}}, timeout)
		must(t, "dial", err)
		s := &session{Conn: c, t: t, events: events}
		t.Cleanup(func() { c.Close(); s.rest() })
		s.await(zk.StateConnected)
		check(t, c, 2<<20)
	})
}
