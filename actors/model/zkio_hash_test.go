package model

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/vclock"
	"github.com/ochopod/ochopod/testkit/zkmem"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// hashWriters are the writers of a cluster's hash that can come between a leader's read and its write
// (DESIGN §7): the arm of a newer phase of the same leader (ClearHash: "not configured" while the pods are
// turned on), and another session (an original leader of a mixed cluster, an operator's tool).
var hashWriters = []struct {
	name  string
	write func(t *testing.T, leader, other zk.Conn, cl zk.Cluster, lock string, version int32) string
}{
	{"a newer phase of the same leader cleared it", func(t *testing.T, leader, _ zk.Conn, cl zk.Cluster, lock string, version int32) string {
		if err := ClearHash(leader, cl, lock, version); err != nil {
			t.Fatal(err)
		}
		return ""
	}},
	{"another session wrote it", func(t *testing.T, _, other zk.Conn, cl zk.Cluster, _ string, _ int32) string {
		if _, err := other.Set(cl.Hash(), []byte("theirs"), zk.AnyVersion); err != nil {
			t.Fatal(err)
		}
		return "theirs"
	}},
}

// checkStaleHashWrite: a configuration written on a view of the hash that another write made stale fails
// whole (hash and snapshot untouched), as a failure the model retries rather than a fence that stops it, and
// the retry, on a fresh read, writes. Without the compare-and-set the stale write would overwrite the other
// writer's hash: a cleared hash put back says "configured" of pods that are half turned on (DESIGN §7).
func checkStaleHashWrite(t *testing.T, leader, other zk.Conn) {
	for i, w := range hashWriters {
		t.Run(w.name, func(t *testing.T) {
			cl := zk.ClusterOf("ns", "web"+string(rune('a'+i)))
			for _, p := range []string{cl.Pods(), cl.Coordinator()} {
				if err := zk.EnsurePath(leader, p); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := leader.Create(cl.Pods()+"/aaaa.0000000001", []byte(`{"ip":"10.0.0.1","port":"8080","seq":1}`), zk.Persistent); err != nil {
				t.Fatal(err)
			}
			lock, err := leader.Create(cl.Coordinator()+"/abc"+zk.LockMarker, nil, zk.EphemeralSequential)
			if err != nil {
				t.Fatal(err)
			}
			cfg := MachineConfig{Cluster: cl, Namespace: "ns"}
			readHash := func() *v1.ClusterRead {
				t.Helper()
				r := ReadCluster(leader, cfg, &cluster.PodReader{}, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
				if r.GetFailure() != nil {
					t.Fatal(r.GetFailure())
				}
				return r
			}
			history := NewHistoryLog(leader, cl, lock, "key-1")
			write := func(r *v1.ClusterRead, hash string) *v1.Written {
				pods := map[string]json.RawMessage{}
				for k, v := range r.GetPods() {
					pods[k] = v
				}
				return WriteConfiguration(leader, cl, lock, 2, pods, hash, r.GetHashVersion(), history, &HistoryEntry{Hash: hash, Pods: len(pods), Outcome: OutcomeOK})
			}
			lastPhase := func() string {
				t.Helper()
				phases := historyOf(t, leader, cl)
				return phases[len(phases)-1].Hash
			}
			if out := write(readHash(), "old"); out.GetFailure() != nil { // configured once: hash and snapshot exist
				t.Fatal(out.GetFailure())
			}
			_, before, err := leader.Get(cl.Snapshot())
			if err != nil {
				t.Fatal(err)
			}

			stale := readHash()
			theirs := w.write(t, leader, other, cl, lock, stale.GetHashVersion())
			out := write(stale, "mine")
			if out.GetFailure() == nil {
				t.Fatal("a write on a stale view of the hash succeeded")
			}
			if out.GetFailure().GetKind() == v1.ErrorKind_ERROR_KIND_FENCED {
				t.Fatalf("a stale view reported as fenced (the model would stop, not retry): %v", out.GetFailure())
			}
			if got, _, err := leader.Get(cl.Hash()); err != nil || string(got) != theirs {
				t.Fatalf("hash %q (%v) after the stale write, want the other writer's %q", got, err, theirs)
			}
			if _, after, err := leader.Get(cl.Snapshot()); err != nil || after.Version != before.Version || after.Mzxid != before.Mzxid {
				t.Fatalf("the failed write changed the snapshot: %+v -> %+v (%v)", before, after, err)
			}
			if got := lastPhase(); got != "old" {
				t.Fatalf("the failed write appended to the history: last phase %q, want old", got)
			}
			if effects := failedWriteEffects(t, out); !retries(effects) {
				t.Fatalf("the model does not retry a failed write: %v", kinds(effects))
			}

			if out := write(readHash(), "mine"); out.GetFailure() != nil { // the retry reads again, then writes
				t.Fatalf("the retry on a fresh read: %v", out.GetFailure())
			}
			if got, _, err := leader.Get(cl.Hash()); err != nil || string(got) != "mine" {
				t.Fatalf("hash %q (%v) after the retry, want mine", got, err)
			}
			if phases := historyOf(t, leader, cl); len(phases) != 2 || phases[1].Hash != "mine" {
				t.Fatalf("history after the retry: %+v, want old then mine", phases)
			}
		})
	}
}

// failedWriteEffects hands a failed write to a model that is writing after a phase, as the actor does.
func failedWriteEffects(t *testing.T, out *v1.Written) []Effect {
	t.Helper()
	out.Generation = 4
	return writingAfterPhase(t).Handle(input(out))
}

func retries(effects []Effect) bool {
	for _, e := range effects {
		if s, ok := e.(StartTimer); ok && s.Name == timerRetry {
			return true
		}
	}
	return false
}

func TestWriteConfiguration_StaleHashFailsAndIsRetried(t *testing.T) {
	srv := zkmem.New(vclock.New())
	dial := func() zk.Conn {
		return srv.Connect(t)
	}
	checkStaleHashWrite(t, dial(), dial())
}

func TestIntegration_WriteConfiguration_StaleHashFailsOnRealZooKeeper(t *testing.T) {
	srv := zkserver.Start(t)
	ens, err := zk.ParseEnsemble(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	dial := func() zk.Conn {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := gozk.Connect(ctx, ens, 10*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	checkStaleHashWrite(t, dial(), dial())
}
