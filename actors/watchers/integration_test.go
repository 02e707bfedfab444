package watchers

import (
	"context"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// connect opens a session on a real ZooKeeper; cleanup closes it (ending the watch goroutines on it).
func connect(t *testing.T, addr string) zk.Conn {
	t.Helper()
	ens, err := zk.ParseEnsemble(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	conn, err := gozk.Connect(ctx, ens, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

func TestIntegration_WatchersReportChangesOnRealZooKeeper(t *testing.T) {
	srv := zkserver.Start(t)
	conn, writer := connect(t, srv.Addr()), connect(t, srv.Addr())
	h := newHarness(t, conn, clock.Real{}) // registered last: stops the actor before the sessions close

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(zk.EnsurePath(writer, web.Path()))
	must(zk.EnsurePath(writer, db.Path()))

	// web's pods/ does not exist yet: watched for creation, then listed.
	h.watch(KindPods, web.Pods(), KindSnapshot, db.Snapshot(), KindClusters, zk.Root)
	h.expectAll("pods "+web.Pods()+" armed", "snapshot "+db.Snapshot()+" armed", "clusters "+zk.Root+" armed")

	must(zk.EnsurePath(writer, web.Pods()))
	h.expect("pods " + web.Pods() + " node_created")
	node, err := writer.Create(web.PodPrefix("k1"), []byte(`{}`), zk.EphemeralSequential)
	must(err)
	h.expect("pods " + web.Pods() + " node_children_changed")
	must(writer.Delete(node, zk.AnyVersion))
	h.expect("pods " + web.Pods() + " node_children_changed")

	_, err = writer.Create(db.Snapshot(), []byte(`{}`), zk.Ephemeral)
	must(err)
	h.expect("snapshot " + db.Snapshot() + " node_created")
	_, err = writer.Set(db.Snapshot(), []byte(`{"k":{}}`), zk.AnyVersion)
	must(err)
	h.expect("snapshot " + db.Snapshot() + " node_data_changed")
	must(writer.Delete(db.Snapshot(), zk.AnyVersion))
	h.expect("snapshot " + db.Snapshot() + " node_deleted")

	must(zk.EnsurePath(writer, cache.Path()))
	h.expect("clusters " + zk.Root + " node_children_changed")

	// Replacing the set drops the snapshot: its node's changes go unreported from now on.
	h.watch(KindPods, web.Pods())
	mark := h.logs.waitFor(t, 0, "dropping a watch target", "path="+db.Snapshot())
	_, err = writer.Create(db.Snapshot(), []byte(`{}`), zk.Ephemeral)
	must(err)
	h.logs.waitFor(t, mark, "ignoring a stale watch event node_created", "path="+db.Snapshot())
	_, err = writer.Create(web.PodPrefix("k2"), []byte(`{}`), zk.EphemeralSequential)
	must(err)
	h.expect("pods " + web.Pods() + " node_children_changed")
	h.none()
}
