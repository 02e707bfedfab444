package model

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/vclock"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

// DESIGN §12, read by the leader: a key registered twice is the node created last (logged), invalid pods
// of its own cluster and of a dependency's snapshot are left out with one WARN each, however often it reads.
func TestReadCluster_DuplicateKeysAndInvalidPods(t *testing.T) {
	srv := zkmem.New(vclock.New())
	conn := srv.Connect(t)
	web, db := zk.ClusterOf("ns", "web"), zk.ClusterOf("ns", "db")
	for _, p := range []string{web.Pods(), db.Path()} {
		if err := zk.EnsurePath(conn, p); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{
		"aaaa.0000000001": `{"ip":"10.0.0.1","port":"8080","seq":1}`,
		"aaaa.0000000005": `{"ip":"10.0.0.5","port":"8080","seq":1}`, // the same key again, later
		"bbbb.0000000002": `{"ip":"10.0.0.2","port":"8080","seq":"abc"}`,
	} {
		if _, err := conn.Create(web.Pods()+"/"+name, []byte(data), zk.Persistent); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := `{"d1":{"ip":"10.0.1.1","port":"8080","seq":1},"d2":{"ip":"$(id)","port":"8080","seq":2}}`
	if _, err := conn.Create(db.Snapshot(), []byte(snapshot), zk.Persistent); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	reader := &cluster.PodReader{}
	cfg := MachineConfig{Cluster: web, Namespace: "ns", DependsOn: []string{"db"}}
	for range 2 {
		out := ReadCluster(conn, cfg, reader, 1, log)
		if out.GetFailure() != nil {
			t.Fatal(out.GetFailure())
		}
		if len(out.GetPods()) != 1 || !strings.Contains(string(out.GetPods()["aaaa"]), "10.0.0.5") {
			t.Fatalf("pods %q: want aaaa's newest node alone", out.GetPods())
		}
		var deps map[string]json.RawMessage
		if err := json.Unmarshal(out.GetDependencies()["ns.db"], &deps); err != nil || len(deps) != 1 || deps["d1"] == nil {
			t.Fatalf("ns.db %s (%v): want d1 alone", out.GetDependencies()["ns.db"], err)
		}
	}
	text := logs.String()
	for what, want := range map[string]int{"bbbb.0000000002": 1, "#d2": 1, "one key, two pod nodes": 2} {
		if got := strings.Count(text, what); got != want {
			t.Errorf("%q logged %d times, want %d:\n%s", what, got, want, text)
		}
	}
}

// readCluster tells podsRead the pods as soon as it has them, before it reads the hash (newPodWarmer opens
// connections to new pods meanwhile): a hash written from podsRead is the one the read returns.
func TestReadCluster_TellsThePodsBeforeTheHash(t *testing.T) {
	srv := zkmem.New(vclock.New())
	conn := srv.Connect(t)
	web := zk.ClusterOf("ns", "web")
	if err := zk.EnsurePath(conn, web.Pods()); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Create(web.Pods()+"/aaaa.0000000001", []byte(`{"ip":"10.0.0.1","port":"8080","seq":1}`), zk.Persistent); err != nil {
		t.Fatal(err)
	}
	var told map[string][]byte
	out := readCluster(conn, MachineConfig{Cluster: web, Namespace: "ns"}, &cluster.PodReader{}, 1, slog.New(slog.DiscardHandler),
		func(pods map[string][]byte) {
			told = pods
			if _, err := conn.Create(web.Hash(), []byte("written-meanwhile"), zk.Persistent); err != nil {
				t.Error(err)
			}
		})
	if out.GetFailure() != nil {
		t.Fatal(out.GetFailure())
	}
	if len(told) != 1 || told["aaaa"] == nil {
		t.Fatalf("told %q, want aaaa", told)
	}
	if out.GetHash() != "written-meanwhile" {
		t.Fatalf("hash %q: podsRead was not told before the hash was read", out.GetHash())
	}
}
