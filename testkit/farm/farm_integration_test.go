package farm_test

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/farm"
	"github.com/ochopod/ochopod/testkit/original"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// snapshotKeys is the keys of the cluster's snapshot, sorted (nil while there is none).
func snapshotKeys(conn zk.Conn, c zk.Cluster) []string {
	data, _, err := conn.Get(c.Snapshot())
	var snap map[string]json.RawMessage
	if err != nil || json.Unmarshal(data, &snap) != nil {
		return nil
	}
	keys := make([]string, 0, len(snap))
	for k := range snap {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// waitSnapshot waits, watch by watch, until the snapshot holds exactly keys (integration test: a deadline).
func waitSnapshot(t *testing.T, conn zk.Conn, c zk.Cluster, keys []string) {
	t.Helper()
	want := slices.Sorted(slices.Values(keys))
	deadline := time.After(60 * time.Second)
	for {
		ok, _, ch, err := conn.ExistsW(c.Snapshot())
		if err == nil && ok && slices.Equal(snapshotKeys(conn, c), want) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("the snapshot holds %v, want %v", snapshotKeys(conn, c), want)
		}
	}
}

// A mixed cluster (DESIGN §7, §11): our pods (protocol 2) led by one of ours, original-style pods beside
// them. It converges; the original pods get the whole cluster with every request, ours get deltas once they
// have a base, and every ok callback of ours sees the whole cluster, never the part a delta carried.
// observedFarm starts a ZooKeeper, a farm of cluster it.web whose pods remember what their callbacks saw,
// and a connection that watches it; all stop with the test.
func observedFarm(t *testing.T) (srv *zkserver.Server, conn zk.Conn, c zk.Cluster, f *farm.Farm) {
	t.Helper()
	srv = zkserver.Start(t)
	ens, err := zk.ParseEnsemble(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if conn, err = gozk.Connect(context.Background(), ens, 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if f, err = farm.New(farm.Config{ZK: srv.Addr(), Namespace: "it", Cluster: "web", Observe: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := f.Close(stop); err != nil {
			t.Error(err)
		}
	})
	return srv, conn, zk.ClusterOf("it", "web"), f
}

func TestIntegration_MixedClusterEachPodGetsItsForm(t *testing.T) {
	srv, conn, c, f := observedFarm(t)
	ctx := context.Background()
	var ours []*farm.Member
	var keys []string
	add := func() {
		m, err := f.Start()
		if err != nil {
			t.Fatal(err)
		}
		ours = append(ours, m)
		keys = append(keys, m.Key)
	}
	add() // the first registered leads: one of ours
	waitSnapshot(t, conn, c, keys)
	add()
	waitSnapshot(t, conn, c, keys)
	var originals []*original.Pod
	for range 2 {
		p, err := original.Start(ctx, original.Config{ZK: srv.Addr(), Namespace: "it", Cluster: "web"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Stop)
		originals = append(originals, p)
		keys = append(keys, p.Key())
	}
	waitSnapshot(t, conn, c, keys)
	add() // a join: the first two of ours have a base by now
	waitSnapshot(t, conn, c, keys)

	all := slices.Sorted(slices.Values(keys))
	for i, m := range ours {
		whole, deltas, firstDelta := m.Forms()
		if i < 2 && deltas == 0 {
			t.Errorf("pod %d of ours (%d whole bodies) never got a delta", i, whole)
		}
		if firstDelta {
			t.Errorf("pod %d of ours got a delta before it had a base", i)
		}
		seen := m.Seen()
		if len(seen) == 0 || !slices.Equal(seen[len(seen)-1], all) {
			t.Errorf("pod %d of ours: its last ok saw %v, want %v", i, seen, all)
		}
		// No pod leaves here: each cluster it saw holds the one before it, and only pods of the cluster. A
		// delta taken for the whole would have lost pods.
		for j, cl := range seen {
			for _, k := range cl {
				if !slices.Contains(all, k) {
					t.Errorf("pod %d of ours saw a pod that never was: %v", i, cl)
				}
			}
			if j > 0 {
				for _, k := range seen[j-1] {
					if !slices.Contains(cl, k) {
						t.Errorf("pod %d of ours saw %v after %v: not the whole cluster", i, cl, seen[j-1])
					}
				}
			}
		}
	}
	for i, p := range originals {
		reqs := p.Requests()
		if len(reqs) == 0 {
			t.Fatalf("original %d got no request", i)
		}
		for _, r := range reqs { // whole clusters only: from 3 pods (the first original joined) to 5
			if len(r.Pods) < 3 || r.Key != p.Key() {
				t.Errorf("original %d: %s with %d pods (key %s)", i, r.Task, len(r.Pods), r.Key)
			}
		}
		if last := reqs[len(reqs)-1]; len(last.Pods) != len(all) {
			t.Errorf("original %d: last %s with %d pods, want %d", i, last.Task, len(last.Pods), len(all))
		}
		if v := p.Violations(); len(v) > 0 {
			t.Errorf("original %d: %v", i, v)
		}
	}
	if tr := f.Traffic(); tr.Deltas == 0 || tr.Requests <= tr.Deltas {
		t.Errorf("traffic %+v: want deltas and whole bodies both", tr)
	}
}

// A hand-over costs what changed (DESIGN §7): the new leader guesses every pod's base from its own pod's, so
// the pods the last phase configured get deltas from its first phase on, and each callback still sees the
// whole cluster.
func TestIntegration_HandOverSendsDeltas(t *testing.T) {
	_, conn, c, f := observedFarm(t)
	var pods []*farm.Member
	var keys []string
	for range 4 { // one at a time: the first leads, the second is next in line
		m, err := f.Start()
		if err != nil {
			t.Fatal(err)
		}
		pods, keys = append(pods, m), append(keys, m.Key)
		waitSnapshot(t, conn, c, keys)
	}
	type forms struct{ whole, deltas int64 }
	before := map[string]forms{}
	for _, m := range pods[1:] {
		w, d, _ := m.Forms()
		before[m.Key] = forms{w, d}
	}
	stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.Stop(stop, pods[0]); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, conn, c, keys[1:])
	all := slices.Sorted(slices.Values(keys[1:]))
	for _, m := range pods[1:] {
		w, d, _ := m.Forms()
		if w != before[m.Key].whole || d < before[m.Key].deltas+3 {
			t.Errorf("pod %s: %d whole bodies and %d deltas after the hand-over, %+v before: want 3 deltas more, no whole body",
				m.Key, w, d, before[m.Key])
		}
		if seen := m.Seen(); len(seen) == 0 || !slices.Equal(seen[len(seen)-1], all) {
			t.Errorf("pod %s: its last ok saw %v, want %v", m.Key, seen, all)
		}
	}
}
