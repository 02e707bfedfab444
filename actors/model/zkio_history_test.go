package model

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/vclock"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

func historyOf(t *testing.T, c zk.Conn, cl zk.Cluster) []cluster.Phase {
	t.Helper()
	data, _, err := c.Get(cl.History())
	if err != nil {
		t.Fatal(err)
	}
	phases, err := cluster.ParseHistory(data)
	if err != nil {
		t.Fatal(err)
	}
	return phases
}

// historyConn is a session on an in-memory ZooKeeper with the cluster's coordinator/ in place.
func historyConn(t *testing.T) (zk.Conn, zk.Cluster) {
	t.Helper()
	c, _, err := zkmem.New(vclock.New()).Dial(zk.Ensemble{Servers: []string{zkmem.ServerName}}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl := zk.ClusterOf("ns", "web")
	if err := zk.EnsurePath(c, cl.Coordinator()); err != nil {
		t.Fatal(err)
	}
	return c, cl
}

// DESIGN §13: the history keeps the last 100 phases, newest last, and only the lock's holder writes it.
func TestWriteHistory_BoundedNewestLastAndFenced(t *testing.T) {
	c, cl := historyConn(t)
	lock, err := c.Create(cl.Coordinator()+"/abc"+zk.LockMarker, nil, zk.EphemeralSequential)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cluster.HistoryLimit + 5 {
		e := HistoryEntry{EndedUnixMs: int64(i) * 1000, DurationMs: 3, Hash: fmt.Sprint(i), Pods: i, Outcome: OutcomeOK}
		if err := WriteHistory(c, cl, lock, "key-1", e); err != nil {
			t.Fatal(err)
		}
	}
	phases := historyOf(t, c, cl)
	if len(phases) != cluster.HistoryLimit || phases[0].Hash != "5" || phases[len(phases)-1].Hash != fmt.Sprint(cluster.HistoryLimit+4) {
		t.Fatalf("%d phases, first %+v, last %+v", len(phases), phases[0], phases[len(phases)-1])
	}
	last := phases[len(phases)-1]
	if last.Leader != "key-1" || last.Lock != "abc__lock__0000000000" || last.At != "1970-01-01T00:01:44.000Z" || last.Dropped == nil {
		t.Fatalf("last entry %+v", last)
	}
	if err := c.Delete(lock, zk.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if err := WriteHistory(c, cl, lock, "key-1", HistoryEntry{Outcome: OutcomeOK, Hash: "late"}); !errors.Is(err, zk.ErrFenced) {
		t.Fatalf("a deposed leader's write: %v, want ErrFenced", err)
	}
	if got := historyOf(t, c, cl); got[len(got)-1].Hash == "late" {
		t.Fatal("a deposed leader wrote the history")
	}
}

// A history node that does not parse (someone wrote garbage) is started again, not a history blocked forever.
func TestWriteHistory_GarbageIsReplaced(t *testing.T) {
	c, cl := historyConn(t)
	if _, err := c.Create(cl.History(), []byte("{not json"), zk.Persistent); err != nil {
		t.Fatal(err)
	}
	lock, err := c.Create(cl.Coordinator()+"/abc"+zk.LockMarker, nil, zk.EphemeralSequential)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHistory(c, cl, lock, "k", HistoryEntry{Outcome: OutcomeOK, Hash: "h"}); err != nil {
		t.Fatal(err)
	}
	if got := historyOf(t, c, cl); len(got) != 1 || got[0].Hash != "h" {
		t.Fatalf("history %+v", got)
	}
}
