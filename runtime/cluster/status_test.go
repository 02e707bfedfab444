package cluster

import (
	"strconv"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/vclock"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

// DESIGN §14: the lock's lowest contender is matched to a pod by its session, so an original (Python) pod's
// Kazoo contender (a random uuid, no key in its data) names its pod; ours match by session too, or by the key
// in their data or name when the session did not match.
func TestReadStatus_HolderMatchedBySessionDataOrName(t *testing.T) {
	srv := zkmem.New(vclock.New())
	dial := func() zk.Conn {
		return srv.Connect(t)
	}
	admin, orig, ours := dial(), dial(), dial()
	for _, p := range []string{stWeb.Pods(), stWeb.Coordinator()} {
		if err := zk.EnsurePath(admin, p); err != nil {
			t.Fatal(err)
		}
	}
	const origKey, ourKey = "0b5e3b3c-1b7e-4a55-9a3e-4f5a2b6f7a10", "7c4ad4f2-8c2c-4a43-b1b9-3f2a2f7c9d01"
	register := func(c zk.Conn, key string) {
		n, err := c.Create(stWeb.PodPrefix(key), []byte(""), zk.EphemeralSequential) // created empty, then filled
		if err != nil {
			t.Fatal(err)
		}
		_, seq, _ := zk.ParseSequential(n)
		if _, err := c.Set(n, []byte(`{"ip":"127.0.0.1","port":"8080","ports":{"8080":31000},"seq":`+itoa(seq)+`}`), zk.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
	register(orig, origKey)
	register(ours, ourKey)
	kazoo, err := orig.Create(stWeb.Coordinator()+"/5f0c1a2b3c4d4e5f8a9b0c1d2e3f4a5b"+zk.LockMarker, []byte(""), zk.EphemeralSequential)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ours.Create(stWeb.Coordinator()+"/7c4ad4f28c2c4a43b1b93f2a2f7c9d01"+zk.LockMarker, []byte(ourKey), zk.EphemeralSequential); err != nil {
		t.Fatal(err)
	}
	st, err := ReadStatus(admin, stWeb.Qualified)
	if err != nil {
		t.Fatal(err)
	}
	if st.Holder.Contender != kazoo[len(stWeb.Coordinator())+1:] || st.Leader() == nil || st.Leader().Key != origKey {
		t.Fatalf("holder %+v, leader %+v: want the original pod %s", st.Holder, st.Leader(), origKey)
	}
	orig.Close() // the original leaves: its nodes go, ours holds the lock
	if st, err = ReadStatus(admin, stWeb.Qualified); err != nil || st.Leader() == nil || st.Leader().Key != ourKey {
		t.Fatalf("after the original left: %+v, %v", st.Holder, err)
	}
	if st.Paused || len(st.History) != 0 || st.History == nil {
		t.Fatalf("paused %v history %v", st.Paused, st.History)
	}

	// No session matches (the contender's session is not a pod's): the data names the pod.
	h := matchHolder(zk.Contender{Name: "x__lock__0000000009", ID: "x"}, zk.Read{Data: []byte(ourKey), Stat: zk.Stat{EphemeralOwner: 42}}, st.Pods)
	if h.Key != ourKey {
		t.Fatalf("by data: %+v", h)
	}
	h = matchHolder(zk.Contender{Name: "7c4ad4f28c2c4a43b1b93f2a2f7c9d01__lock__0000000009", ID: "7c4ad4f28c2c4a43b1b93f2a2f7c9d01"}, zk.Read{Stat: zk.Stat{EphemeralOwner: 42}}, st.Pods)
	if h.Key != ourKey {
		t.Fatalf("by name: %+v", h)
	}
	if h = matchHolder(zk.Contender{Name: "y__lock__0000000009", ID: "y"}, zk.Read{Stat: zk.Stat{EphemeralOwner: 42}}, st.Pods); h.Key != "" {
		t.Fatalf("nothing matches, yet %+v", h)
	}
}

var stWeb = zk.ClusterOf("prod", "web")

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func stConn(t *testing.T) zk.Conn {
	t.Helper()
	c, _, err := zkmem.New(vclock.New()).Dial(zk.Ensemble{Servers: []string{zkmem.ServerName}}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// A history node that is not an array of phases is reported, not fatal.
func TestReadStatus_BadHistoryIsReported(t *testing.T) {
	c := stConn(t)
	for p, data := range map[string]string{stWeb.History(): `{"not":"a list"}`, stWeb.Paused(): ""} {
		if err := zk.EnsurePath(c, p); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Set(p, []byte(data), zk.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
	st, err := ReadStatus(c, stWeb.Qualified)
	if err != nil || st.HistoryErr == "" || len(st.History) != 0 || !st.Paused {
		t.Fatalf("status %+v, %v", st, err)
	}
}

func TestAppendHistory_KeepsTimeOrderAndTheBound(t *testing.T) {
	var h []Phase
	for i := range HistoryLimit + 3 {
		h = AppendHistory(h, Phase{At: "2026-01-01T00:00:" + string(rune('0'+i%10)) + "0.000Z", Hash: itoa(int64(i))})
	}
	if len(h) != HistoryLimit {
		t.Fatalf("%d phases", len(h))
	}
	for i := 1; i < len(h); i++ {
		if h[i].At < h[i-1].At {
			t.Fatalf("out of order at %d: %s after %s", i, h[i].At, h[i-1].At)
		}
	}
	h = AppendHistory([]Phase{{At: "b"}, {At: "d"}}, Phase{At: "c"})
	if h[1].At != "c" || h[1].Dropped == nil {
		t.Fatalf("a late write lands in its place: %+v", h)
	}
}
