package watchers

import (
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/vclock"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

const sessionTimeout = 10 * time.Second

// memFixture is an in-memory ZooKeeper on a virtual clock, the watchers' session on it, and a second session
// that plays the rest of the world.
type memFixture struct {
	*harness
	clk    *vclock.Clock
	srv    *zkmem.Server
	conn   zk.Conn // the watchers'
	writer zk.Conn
}

func newMemFixture(t *testing.T) *memFixture {
	t.Helper()
	f := &memFixture{clk: vclock.New()}
	f.srv = zkmem.New(f.clk)
	dial := func() zk.Conn {
		c, _, err := f.srv.Dial(zk.Ensemble{Servers: []string{zkmem.ServerName}}, sessionTimeout)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	f.conn, f.writer = dial(), dial()
	t.Cleanup(func() { // runs after the harness's cleanup: the actor is stopped, its goroutines end here
		f.conn.Close()
		f.writer.Close()
		if err := f.srv.Check(); err != nil {
			t.Errorf("server check: %v\n%s", err, f.srv.Dump())
		}
		for _, v := range f.srv.Violations() {
			t.Errorf("violation: %v", v)
		}
	})
	f.harness = newHarness(t, f.conn, f.clk)
	return f
}

func (f *memFixture) ensure(p string) {
	f.t.Helper()
	if err := zk.EnsurePath(f.writer, p); err != nil {
		f.t.Fatal(err)
	}
}

func (f *memFixture) create(p string, data string, mode zk.CreateMode) string {
	f.t.Helper()
	name, err := f.writer.Create(p, []byte(data), mode)
	if err != nil {
		f.t.Fatalf("create %s: %v", p, err)
	}
	return name
}

func (f *memFixture) set(p, data string) {
	f.t.Helper()
	if _, err := f.writer.Set(p, []byte(data), zk.AnyVersion); err != nil {
		f.t.Fatalf("set %s: %v", p, err)
	}
}

func (f *memFixture) remove(p string) {
	f.t.Helper()
	if err := f.writer.Delete(p, zk.AnyVersion); err != nil {
		f.t.Fatalf("delete %s: %v", p, err)
	}
}

var (
	web   = zk.ClusterOf("ns", "web")
	db    = zk.ClusterOf("ns", "db")
	cache = zk.ClusterOf("ns", "cache")
)

func TestActor_PodNodeCreatedAndDeletedReportsChanged(t *testing.T) {
	f := newMemFixture(t)
	f.ensure(web.Pods())
	f.watch(KindPods, web.Pods())
	f.expect("pods " + web.Pods() + " armed")

	node := f.create(web.PodPrefix("k1"), `{"ip":"10.0.0.1"}`, zk.EphemeralSequential)
	f.expect("pods " + web.Pods() + " node_children_changed")
	f.create(web.PodPrefix("k2"), `{"ip":"10.0.0.2"}`, zk.EphemeralSequential)
	f.expect("pods " + web.Pods() + " node_children_changed")
	f.remove(node)
	f.expect("pods " + web.Pods() + " node_children_changed")
}

func TestActor_MissingPodsNodeIsWatchedUntilItAppears(t *testing.T) {
	f := newMemFixture(t)
	f.watch(KindPods, web.Pods())
	f.expect("pods " + web.Pods() + " armed")

	f.ensure(web.Pods())
	f.expect("pods " + web.Pods() + " node_created")
	f.create(web.PodPrefix("k1"), `{}`, zk.EphemeralSequential)
	f.expect("pods " + web.Pods() + " node_children_changed")
}

func TestActor_SnapshotReportsCreateSetAndDelete(t *testing.T) {
	f := newMemFixture(t)
	f.ensure(db.Path())
	f.watch(KindSnapshot, db.Snapshot())
	f.expect("snapshot " + db.Snapshot() + " armed")

	f.create(db.Snapshot(), `{}`, zk.Ephemeral)
	f.expect("snapshot " + db.Snapshot() + " node_created")
	f.set(db.Snapshot(), `{"k1":{"ip":"10.0.0.1"}}`)
	f.expect("snapshot " + db.Snapshot() + " node_data_changed")
	f.remove(db.Snapshot())
	f.expect("snapshot " + db.Snapshot() + " node_deleted")
	f.create(db.Snapshot(), `{}`, zk.Ephemeral)
	f.expect("snapshot " + db.Snapshot() + " node_created")
}

func TestActor_ClusterListReportsNewClusters(t *testing.T) {
	f := newMemFixture(t)
	f.ensure(web.Pods())
	f.watch(KindClusters, "")
	f.expect("clusters " + zk.Root + " armed")
	f.ensure(db.Pods())
	f.expect("clusters " + zk.Root + " node_children_changed")
}

func TestActor_ReplacedSetIgnoresTheDroppedTarget(t *testing.T) {
	f := newMemFixture(t)
	f.ensure(web.Pods())
	f.ensure(db.Path())
	f.watch(KindPods, web.Pods(), KindSnapshot, db.Snapshot())
	f.expectAll("pods "+web.Pods()+" armed", "snapshot "+db.Snapshot()+" armed")

	f.watch(KindPods, web.Pods(), KindSnapshot, cache.Snapshot())
	f.expect("snapshot " + cache.Snapshot() + " armed") // the kept target is not armed again

	// The dropped target's watch still fires; its event must go nowhere.
	mark := f.logs.mark()
	f.create(db.Snapshot(), `{}`, zk.Ephemeral)
	f.logs.waitFor(t, mark, "ignoring a stale watch event node_created", "path="+db.Snapshot())
	f.none()

	f.create(web.PodPrefix("k1"), `{}`, zk.EphemeralSequential)
	f.expect("pods " + web.Pods() + " node_children_changed")
	f.none()
}

func TestActor_DisconnectRearmsAfterReconnectWithAChange(t *testing.T) {
	f := newMemFixture(t)
	f.ensure(web.Pods())
	f.ensure(db.Path())
	f.watch(KindPods, web.Pods())
	f.expect("pods " + web.Pods() + " armed")

	if err := f.srv.Disconnect(f.conn.SessionID()); err != nil {
		t.Fatal(err)
	}
	// A watch asked for while the connection is down cannot be set: reported at once, retried with backoff.
	f.watch(KindPods, web.Pods(), KindSnapshot, db.Snapshot())
	f.expect("snapshot " + db.Snapshot() + " failed")
	f.clk.Advance(testBackoff.Initial) // the retry is scheduled before the report goes out
	f.expect("snapshot " + db.Snapshot() + " failed")

	// Meanwhile the pods change and the snapshot appears; the pods watch survives the disconnection and
	// fires once the session is back.
	f.create(web.PodPrefix("k1"), `{}`, zk.EphemeralSequential)
	f.create(db.Snapshot(), `{}`, zk.Ephemeral)
	if err := f.srv.Reconnect(f.conn.SessionID()); err != nil {
		t.Fatal(err)
	}
	f.expect("pods " + web.Pods() + " node_children_changed")
	f.clk.Advance(2 * testBackoff.Initial)
	f.expect("snapshot " + db.Snapshot() + " rearmed")

	// Both watches work again.
	f.set(db.Snapshot(), `{"k":{}}`)
	f.expect("snapshot " + db.Snapshot() + " node_data_changed")
	f.create(web.PodPrefix("k2"), `{}`, zk.EphemeralSequential)
	f.expect("pods " + web.Pods() + " node_children_changed")
}

func TestActor_ExpiredSessionReportsTheLostWatchAndKeepsRetrying(t *testing.T) {
	f := newMemFixture(t)
	f.ensure(web.Pods())
	f.watch(KindPods, web.Pods())
	f.expect("pods " + web.Pods() + " armed")

	if err := f.srv.Expire(f.conn.SessionID()); err != nil {
		t.Fatal(err)
	}
	f.expect("pods " + web.Pods() + " lost")
	// The session is gone for good: every retry fails until the parent stops us, at the backoff's pace.
	f.clk.Advance(testBackoff.Initial)
	f.expect("pods " + web.Pods() + " failed")
	f.clk.Advance(2 * testBackoff.Initial)
	f.expect("pods " + web.Pods() + " failed")
}

func TestActor_RestartRearmsTheLastSet(t *testing.T) {
	f := newMemFixture(t)
	f.ensure(web.Pods())
	f.watch(KindPods, web.Pods())
	f.expect("pods " + web.Pods() + " armed")

	f.crash()
	f.expect("pods " + web.Pods() + " armed") // the new incarnation arms the last set again

	// Two watches are on pods/ now, the old incarnation's and the new one's; only the new one reports.
	mark := f.logs.mark()
	f.create(web.PodPrefix("k1"), `{}`, zk.EphemeralSequential)
	f.expect("pods " + web.Pods() + " node_children_changed")
	f.logs.waitFor(t, mark, "ignoring a stale watch event node_children_changed", "path="+web.Pods())
	f.none()
}
