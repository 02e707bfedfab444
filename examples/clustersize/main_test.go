package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ochopod/ochopod/actors/custom"
	"github.com/ochopod/ochopod/examples/clustersize/size"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// wait bounds every wait of these tests; each ends as soon as what it waits for is there.
const wait = 60 * time.Second

// program builds this program once per test.
func program(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "clustersize")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// member is one pod: a process of the program.
type member struct {
	key string
	cmd *exec.Cmd
}

func start(t *testing.T, bin, zkAddr string) *member {
	t.Helper()
	m := &member{key: uuid.NewString()}
	m.cmd = exec.Command(bin, "--zk", zkAddr, "--key", m.key, "--session-timeout", "4s")
	m.cmd.Stdout, m.cmd.Stderr = os.Stderr, os.Stderr
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.stop(t) })
	return m
}

// stop is SIGTERM, and waits for the exit (SIGKILL if it takes longer than wait).
func (m *member) stop(t *testing.T) {
	if m.cmd.ProcessState != nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- m.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("pod %s: %v", m.key, err)
		}
	case <-time.After(wait):
		_ = m.cmd.Process.Kill()
		<-done
		t.Errorf("pod %s did not stop on SIGTERM within %s", m.key, wait)
	}
}

// until polls ZooKeeper until the size node satisfies ok (integration tests poll with a deadline).
func until(t *testing.T, conn zk.Conn, cl zk.Cluster, what string, ok func(size.Record, string) bool) size.Record {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		r, err := size.Read(conn, cl)
		hash, _, herr := conn.Get(cl.Hash())
		if err == nil && herr == nil && ok(r, string(hash)) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s: last %+v (%v), hash %q", what, wait, r, err, hash)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The example on real ZooKeeper, as processes of the program: once three pods converged, the size node holds
// 3, written by the leader's actor with the cluster's hash; the leader leaves (SIGTERM), and the new leader's
// actor writes 2; a write fenced by the old leader's lock node, as its actor would send it late, is refused
// and changes nothing.
func TestIntegration_ClusterSize_PublishedByTheLeaderAndFenced(t *testing.T) {
	srv := zkserver.Start(t)
	bin := program(t)
	ens, err := zk.ParseEnsemble(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	conn, err := gozk.Connect(ctx, ens, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	members := map[string]*member{}
	for range 3 {
		m := start(t, bin, srv.Addr())
		members[m.key] = m
	}
	cl := zk.ClusterOf("default", "sizes")
	first := until(t, conn, cl, "size 3", func(r size.Record, hash string) bool { return r.Size == 3 && r.Hash == hash && hash != "" })
	old := members[first.Leader]
	if old == nil {
		t.Fatalf("size written by %q, none of the pods", first.Leader)
	}
	if err := size.Check(conn, cl, keysOf(members), first.Leader); err != nil {
		t.Fatal(err)
	}

	old.stop(t)
	delete(members, old.key)
	second := until(t, conn, cl, "size 2 from a new leader", func(r size.Record, hash string) bool {
		return r.Size == 2 && r.Hash == hash && r.Leader != old.key
	})
	if members[second.Leader] == nil || second.Lock == first.Lock {
		t.Fatalf("size 2 written by %q under %s: want a remaining pod, under a new lock", second.Leader, second.Lock)
	}

	late := custom.NewNodes(conn, first.Lock, cl, size.Name) // the old leader's actor, its write arriving late
	if err := late.Write("", []byte(`{"size":3}`)); !errors.Is(err, zk.ErrFenced) {
		t.Fatalf("a write under the old leader's lock: %v, want zk.ErrFenced", err)
	}
	if now, err := size.Read(conn, cl); err != nil || now != second {
		t.Fatalf("after the fenced write the node holds %+v (%v), want %+v", now, err, second)
	}
}

func keysOf(m map[string]*member) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
