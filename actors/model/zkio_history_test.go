package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
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
	h := NewHistoryLog(c, cl, lock, "key-1")
	for i := range cluster.HistoryLimit + 5 {
		e := HistoryEntry{EndedUnixMs: int64(i) * 1000, DurationMs: 3, Hash: fmt.Sprint(i), Pods: i, Outcome: OutcomeOK}
		if err := h.Append(e); err != nil {
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
	if err := h.Append(HistoryEntry{Outcome: OutcomeOK, Hash: "late"}); !errors.Is(err, zk.ErrFenced) {
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
	if err := NewHistoryLog(c, cl, lock, "k").Append(HistoryEntry{Outcome: OutcomeOK, Hash: "h"}); err != nil {
		t.Fatal(err)
	}
	if got := historyOf(t, c, cl); len(got) != 1 || got[0].Hash != "h" {
		t.Fatalf("history %+v", got)
	}
}

// The log remembers the node as it wrote it; a node changed behind its back (by hand, or a predecessor's
// write finishing late) is read again and the entry appended to it, losing neither.
func TestHistoryLog_ANodeChangedBehindItsBackIsReadAgain(t *testing.T) {
	c, cl := historyConn(t)
	lock, err := c.Create(cl.Coordinator()+"/abc"+zk.LockMarker, nil, zk.EphemeralSequential)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHistoryLog(c, cl, lock, "k")
	if err := h.Append(HistoryEntry{Outcome: OutcomeOK, Hash: "1"}); err != nil {
		t.Fatal(err)
	}
	late, err := json.Marshal(append(historyOf(t, c, cl), cluster.Phase{Hash: "late", Outcome: OutcomeOK}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(cl.History(), late, zk.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if err := h.Append(HistoryEntry{Outcome: OutcomeOK, Hash: "2"}); err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, p := range historyOf(t, c, cl) {
		hashes = append(hashes, p.Hash)
	}
	if fmt.Sprint(hashes) != "[1 late 2]" {
		t.Fatalf("history %v, want [1 late 2]", hashes)
	}
	if err := c.Delete(cl.History(), zk.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if err := h.Append(HistoryEntry{Outcome: OutcomeOK, Hash: "3"}); err != nil {
		t.Fatal(err)
	}
	if got := historyOf(t, c, cl); len(got) != 1 || got[0].Hash != "3" {
		t.Fatalf("history after its node was deleted: %+v", got)
	}
}

// A phase's entry goes with snapshot and hash in one multi: a leader deposed before the write leaves neither,
// and a cluster said configured by its hash always has the phase in its history (the CI run where a session
// closed between two writes left the history one phase behind the hash for good).
func TestWriteConfiguration_TheHistoryEntryGoesWithTheHash(t *testing.T) {
	c, cl := historyConn(t)
	lock, err := c.Create(cl.Coordinator()+"/abc"+zk.LockMarker, nil, zk.EphemeralSequential)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHistoryLog(c, cl, lock, "k")
	pods := map[string]json.RawMessage{"a": json.RawMessage(`{"seq":1}`)}
	if out := WriteConfiguration(c, cl, lock, 1, pods, "h1", zk.AnyVersion, h, &HistoryEntry{Hash: "h1", Pods: 1, Outcome: OutcomeOK}); out.GetFailure() != nil {
		t.Fatal(out.GetFailure())
	}
	if got := historyOf(t, c, cl); len(got) != 1 || got[0].Hash != "h1" || got[0].Pods != 1 || got[0].Leader != "k" {
		t.Fatalf("history %+v", got)
	}
	if err := c.Delete(lock, zk.AnyVersion); err != nil {
		t.Fatal(err)
	}
	out := WriteConfiguration(c, cl, lock, 2, pods, "h2", zk.AnyVersion, h, &HistoryEntry{Hash: "h2", Pods: 1, Outcome: OutcomeOK})
	if out.GetFailure().GetKind() != v1.ErrorKind_ERROR_KIND_FENCED {
		t.Fatalf("a deposed leader's write: %v, want fenced", out.GetFailure())
	}
	if hash, _, err := c.Get(cl.Hash()); err != nil || string(hash) != "h1" {
		t.Fatalf("hash %q (%v), want h1", hash, err)
	}
	if got := historyOf(t, c, cl); len(got) != 1 {
		t.Fatalf("history %+v after a fenced write", got)
	}
}
