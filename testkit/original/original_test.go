package original_test

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/original"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// waitFor re-checks ok at each change under /ochopod until it holds (integration test: a deadline, no sleep).
func waitFor(t *testing.T, conn zk.Conn, what string, ok func() bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !ok() {
		var chans []<-chan zk.WatchEvent
		var walk func(p string)
		walk = func(p string) {
			names, _, ch, err := conn.ChildrenW(p)
			if err != nil {
				return
			}
			chans = append(chans, ch)
			if _, _, dch, err := conn.GetW(p); err == nil {
				chans = append(chans, dch)
			}
			for _, n := range names {
				walk(p + "/" + n)
			}
		}
		walk(zk.Root)
		if ok() {
			return
		}
		fired := make(chan struct{}, len(chans)+1)
		for _, ch := range chans {
			go func() { <-ch; fired <- struct{}{} }()
		}
		select {
		case <-fired:
		case <-time.After(time.Second): // requests arrive over HTTP, not through ZooKeeper
		case <-deadline:
			t.Fatalf("not within 30s: %s", what)
		}
	}
}

// Two original pods: one leads and configures both, keyed as the original keys them; the pod nodes were
// created empty, then filled; the contenders hold no data.
func TestIntegration_OriginalPodsConfigureEachOther(t *testing.T) {
	srv := zkserver.Start(t)
	ens, err := zk.ParseEnsemble(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := gozk.Connect(ctx, ens, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pods []*original.Pod
	for range 2 {
		p, err := original.Start(ctx, original.Config{ZK: srv.Addr(), Namespace: "it", Cluster: "web", DependsOn: []string{"db-*"}})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		pods = append(pods, p)
	}
	c := zk.ClusterOf("it", "web")
	keys := []string{pods[0].Key(), pods[1].Key()}
	sort.Strings(keys)
	waitFor(t, conn, "both pods configured", func() bool {
		data, _, err := conn.Get(c.Snapshot())
		var snap map[string]json.RawMessage
		if err != nil || json.Unmarshal(data, &snap) != nil || len(snap) != 2 {
			return false
		}
		for _, p := range pods {
			if s, restarts := p.Starts(); s != 1 || restarts != 0 {
				return false
			}
		}
		return true
	})
	leaders := 0
	for _, p := range pods {
		if p.Leading() {
			leaders++
			if n, h := p.Phases(); n < 1 || h == "" {
				t.Errorf("leader: %d phases, hash %q", n, h)
			}
		}
		var on original.Request
		for _, r := range p.Requests() {
			if r.Task == "on" {
				on = r
			}
		}
		if on.Key != p.Key() || on.Key != p.Key() || len(on.Pods) != 2 || len(on.Dependencies) != 1 || on.Dependencies["db-*"] == nil {
			t.Errorf("last on: key %s, %d pods, dependencies %v", on.Key, len(on.Pods), on.Dependencies)
		}
		if v := p.Violations(); len(v) > 0 {
			t.Errorf("violations: %v", v)
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders", leaders)
	}
	names, _, err := conn.Children(c.Coordinator())
	if err != nil {
		t.Fatal(err)
	}
	contenders, foreign := zk.SortContenders(names)
	if len(contenders) != 2 || len(foreign) != 0 || slices.Contains(keys, contenders[0].ID) {
		t.Fatalf("contenders %v (foreign %v): want two Kazoo-form ones with random ids", contenders, foreign)
	}
	for _, ct := range contenders {
		if data, _, err := conn.Get(c.Coordinator() + "/" + ct.Name); err != nil || data == nil || len(data) != 0 {
			t.Errorf("contender %s holds %q (%v), want the empty string", ct.Name, data, err)
		}
	}
}
