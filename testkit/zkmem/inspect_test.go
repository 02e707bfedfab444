package zkmem_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/vclock"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden transcripts in testdata")

func TestZkmem_Dump(t *testing.T) {
	f := newFixture(t)
	a, b := f.dial(""), f.dial("/b")
	f.create(a, "/b", zk.Persistent)
	f.create(a, "/a", zk.Persistent)
	f.create(a, "/a/e", zk.Ephemeral)
	f.create(b, "/x", zk.Persistent)
	_, _, _, _ = b.GetW("/x")
	if _, err := a.Set("/a", []byte(strings.Repeat("z", 70)), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Disconnect(b.SessionID()); err != nil {
		t.Fatal(err)
	}
	want := `zxid 7
session 1 connected timeout 10s ephemerals 1 watches 0
session 2 disconnected timeout 10s chroot /b ephemerals 0 watches 1
/
/a v1 cv1 "` + strings.Repeat("z", 64) + `..."
/a/e v0 cv0 ephemeral=1 "/a/e"
/b v0 cv1 "/b"
/b/x v0 cv0 "/x"
`
	if got := f.srv.Dump(); got != want {
		t.Errorf("Dump:\n%s\nwant\n%s", got, want)
	}
}

func TestZkmem_InvariantSeesEveryCommit(t *testing.T) {
	var commits []string
	f := newFixture(t, zkmem.WithInvariant("log", func(v zkmem.View) error {
		c := v.LastCommit()
		commits = append(commits, fmt.Sprintf("%d %d %s %v", c.Zxid, c.SessionID, c.Cause, c.Ops))
		if _, ok := v.Node("/forbidden"); ok {
			return errors.New("/forbidden exists")
		}
		return nil
	}))
	a, b := f.dial(""), f.dial("")
	f.create(a, "/e", zk.Ephemeral)
	_, _ = b.Multi(zk.CreateOp{Path: "/s-", Mode: zk.PersistentSequential}, zk.SetOp{Path: "/s-0000000001", Version: -1})
	_, _ = b.Create("/e", nil, 0) // fails: no commit
	a.Close()
	if err := f.srv.Expire(b.SessionID()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"3 1  [{create /e}]",
		"4 2  [{create /s-0000000001} {set /s-0000000001}]",
		"6 1 close [{delete /e}]",
		"7 2 expire []",
	}
	if !reflect.DeepEqual(commits, want) {
		t.Errorf("commits:\n%q\nwant\n%q", commits, want)
	}

	// A broken invariant is recorded, not enforced.
	srv := zkmem.New(vclock.New())
	srv.AddInvariant("no forbidden", func(v zkmem.View) error {
		if _, ok := v.Node("/forbidden"); ok {
			return errors.New("/forbidden exists")
		}
		return nil
	})
	c, _, err := srv.Dial(zk.Ensemble{}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/forbidden", nil, zk.Persistent); err != nil {
		t.Fatal(err)
	}
	if got := srv.Violations(); len(got) != 1 || !strings.Contains(got[0].Error(), "/forbidden exists") {
		t.Errorf("violations: %v", got)
	}
	if err := srv.Check(); err == nil {
		t.Errorf("Check passed with a broken invariant")
	}
	if err := c.Delete("/forbidden", -1); err != nil {
		t.Fatal(err)
	}
	if err := srv.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestZkmem_EventBufferOverflowIsAViolation(t *testing.T) {
	srv := zkmem.New(vclock.New(), zkmem.WithEventBuffer(3))
	c, ev, err := srv.Dial(zk.Ensemble{}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Disconnect(c.SessionID()); err != nil { // third event: fits
		t.Fatal(err)
	}
	if err := srv.Reconnect(c.SessionID()); err != nil { // fourth: dropped
		t.Fatal(err)
	}
	if got := srv.Violations(); len(got) != 1 || !strings.Contains(got[0].Error(), "event channel full") {
		t.Errorf("violations %v", got)
	}
	if len(ev) != 3 {
		t.Errorf("%d events buffered, want 3", len(ev))
	}
}

// scenario is a fixed sequence of calls and faults; it returns the server's trace and dump.
func scenario() (string, string) {
	var trace []string
	clk := vclock.New()
	srv := zkmem.New(clk, zkmem.WithTrace(func(l string) { trace = append(trace, l) }))
	conns := make([]zk.Conn, 3)
	for i := range conns {
		conns[i], _, _ = srv.Dial(zk.Ensemble{}, 5*time.Second)
	}
	_ = zk.EnsurePath(conns[0], "/ochopod/clusters/a.b/pods")
	for i, c := range conns {
		_, _ = c.Create(fmt.Sprintf("/ochopod/clusters/a.b/pods/k%d.", i), []byte{byte(i)}, zk.EphemeralSequential)
		_, _, _, _ = c.ChildrenW("/ochopod/clusters/a.b/pods")
		_, _, _, _ = c.ExistsW("/ochopod/clusters/a.b/snapshot")
	}
	_ = srv.Partition(conns[1].SessionID(), conns[2].SessionID())
	clk.Advance(3 * time.Second)
	_ = srv.Reconnect(conns[1].SessionID())
	clk.Advance(3 * time.Second)
	_, _ = conns[0].Create("/ochopod/clusters/a.b/snapshot", nil, zk.Ephemeral)
	srv.Heal()
	conns[0].Close()
	return strings.Join(trace, "\n"), srv.Dump()
}

func TestZkmem_SameCallsSameTrace(t *testing.T) {
	t1, d1 := scenario()
	for i := 0; i < 5; i++ {
		t2, d2 := scenario()
		if t1 != t2 || d1 != d2 {
			t.Fatalf("run %d differs:\n%s\n%s\nvs\n%s\n%s", i, t1, d1, t2, d2)
		}
	}
	got := t1 + "\n--- dump\n" + d1
	const golden = "testdata/scenario.trace"
	if *rewrite {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if got != string(want) {
		t.Errorf("trace differs from %s (run with -rewrite after checking):\n%s", golden, got)
	}
}
