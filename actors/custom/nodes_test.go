package custom

import (
	"errors"
	"testing"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/vclock"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

// leading is a session on zkmem that holds a lock node of web, and the node's path.
func leading(t *testing.T) (zk.Conn, string) {
	t.Helper()
	srv := zkmem.New(vclock.New())
	conn := srv.Connect(t)
	if err := zk.EnsurePath(conn, web.Coordinator()); err != nil {
		t.Fatal(err)
	}
	lock, err := conn.Create(web.Coordinator()+"/k__lock__", []byte("k"), zk.EphemeralSequential)
	if err != nil {
		t.Fatal(err)
	}
	return conn, lock
}

// DESIGN §7 for custom actors: a leader-scope actor's writes create its nodes under the cluster's node and
// set them, each in one multi checking the lock node first; once the lock node is gone nothing is written.
func TestNodes_WritesAreFencedByTheLock(t *testing.T) {
	conn, lock := leading(t)
	n := NewNodes(conn, lock, web, "size")
	for _, w := range []struct{ rel, data string }{{"", "3"}, {"", "4"}, {"deep/er", "x"}} {
		if err := n.Write(w.rel, []byte(w.data)); err != nil {
			t.Fatalf("write %q: %v", w.rel, err)
		}
		if got, err := n.Read(w.rel); err != nil || string(got) != w.data {
			t.Fatalf("read %q: %q, %v; want %q", w.rel, got, err, w.data)
		}
	}
	if data, _, err := conn.Get("/ochopod/clusters/ns.web/actors/size/deep/er"); err != nil || string(data) != "x" {
		t.Fatalf("the node under the actor's: %q, %v", data, err)
	}
	if err := conn.Delete(lock, zk.AnyVersion); err != nil { // an operator deposes the leader
		t.Fatal(err)
	}
	err := n.Write("", []byte("5"))
	if !errors.Is(err, zk.ErrFenced) {
		t.Fatalf("write after the lock was lost: %v, want zk.ErrFenced", err)
	}
	if err := n.Write("new", []byte("y")); !errors.Is(err, zk.ErrFenced) {
		t.Fatalf("create after the lock was lost: %v, want zk.ErrFenced", err)
	}
	if got, _ := n.Read(""); string(got) != "4" {
		t.Fatalf("the node holds %q after a fenced write, want 4", got)
	}
	if ok, _, _ := conn.Exists("/ochopod/clusters/ns.web/actors/size/new"); ok {
		t.Fatal("a fenced create made the node")
	}
}

// Set runs the write as a task and tells NodeWritten with its epoch; fenced, its failure says so.
func TestNodes_SetTellsNodeWrittenWithTheEpoch(t *testing.T) {
	conn, lock := leading(t)
	n := NewNodes(conn, lock, web, "size")
	ctx := &context{}
	n.Set(ctx, 7, "", []byte("1"))
	_ = conn.Delete(lock, zk.AnyVersion)
	n.Set(ctx, 8, "", []byte("2"))
	n.Set(ctx, 9, "../other", []byte("3"))
	if len(ctx.told) != 2 || len(ctx.sent) != 1 {
		t.Fatalf("told %v, sent %v", ctx.told, ctx.sent)
	}
	ok, fenced, bad := ctx.told[0].(*v1.NodeWritten), ctx.told[1].(*v1.NodeWritten), ctx.sent[0].msg.(*v1.NodeWritten)
	if ok.GetEpoch() != 7 || ok.GetFailure() != nil || ok.GetPath() != Dir(web, "size") {
		t.Fatalf("first write: %v", ok)
	}
	if fenced.GetEpoch() != 8 || fenced.GetFailure().GetKind() != v1.ErrorKind_ERROR_KIND_FENCED {
		t.Fatalf("write after the lock was lost: %v, want a fenced failure", fenced)
	}
	if bad.GetEpoch() != 9 || bad.GetFailure() == nil {
		t.Fatalf("a node outside the actor's: %v, want a failure", bad)
	}
}

func TestNodes_PathStaysUnderTheActorsNode(t *testing.T) {
	n := NewNodes(nil, "/l", web, "a")
	for _, rel := range []string{"..", "../b", "/abs", "a//b", "a/../../b", "a/", "./a", "a\x00"} {
		if p, err := n.Path(rel); err == nil {
			t.Errorf("%q gave %s, want an error", rel, p)
		}
	}
}
