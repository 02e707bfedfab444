package main

import (
	"encoding/json"
	"errors"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	gozkraw "github.com/go-zookeeper/zk"

	"github.com/ochopod/ochopod/actors/leader"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/original"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// Mixed clusters (DESIGN §3, §11): our pods and pods that behave on the wire as the original's do
// (testkit/original: nodes created empty then filled, Kazoo-form contenders with no data, dependencies keyed
// as declared, their own hash) share clusters and dependencies.

func mdStartOriginal(t *testing.T, addr, cluster string, dependsOn []string) *original.Pod {
	t.Helper()
	p, err := original.Start(t.Context(), original.Config{ZK: addr, Namespace: "it", Cluster: cluster, DependsOn: dependsOn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		if v := p.Violations(); len(v) > 0 {
			t.Errorf("original pod %s of %s saw what an original pod fails on: %v", p.Key(), cluster, v)
		}
	})
	return p
}

// mdLastOn is the dependencies of the last on an original pod answered: entry -> its pod keys, sorted.
func mdLastOn(p *original.Pod) (map[string][]string, int) {
	var deps map[string]map[string]json.RawMessage
	ons := 0
	for _, r := range p.Requests() {
		if r.Task == "on" {
			deps, ons = r.Dependencies, ons+1
		}
	}
	if deps == nil {
		return nil, 0
	}
	out := map[string][]string{}
	for name, pods := range deps {
		out[name] = []string{}
		for k := range pods {
			out[name] = append(out[name], k)
		}
		sort.Strings(out[name])
	}
	return out, ons
}

// mdEventually re-checks ok until it holds (the original pods are in-process: no ZooKeeper event to wait on).
func mdEventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(modelDeadline)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", modelDeadline, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mdNullHash creates c's hash node with null data, through the client library directly (our adapter never
// writes null), as our pods did before DESIGN §3 said otherwise.
func mdNullHash(t *testing.T, addr string, c zk.Cluster) {
	t.Helper()
	raw, _, err := gozkraw.Connect([]string{addr}, 10*time.Second, gozkraw.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	cur := ""
	for _, seg := range strings.Split(strings.TrimPrefix(c.Hash(), "/"), "/") {
		cur += "/" + seg
		data := []byte{} // the parents as anyone creates them; the hash alone null
		if cur == c.Hash() {
			data = nil
		}
		if _, err := raw.Create(cur, data, 0, gozkraw.WorldACL(gozkraw.PermAll)); err != nil && !errors.Is(err, gozkraw.ErrNodeExists) {
			t.Fatal(err)
		}
	}
	if data, _, err := raw.Get(c.Hash()); err != nil || data != nil {
		t.Fatalf("hash %q, %v: want null data", data, err)
	}
}

// mdLeaderBySession finds c's leader as the README says a tool does: the lowest contender's ephemeral owner
// (its session) is the owner of the leader's node under pods/; it returns that pod's key.
func mdLeaderBySession(t *testing.T, conn zk.Conn, c zk.Cluster) string {
	t.Helper()
	names, _, err := conn.Children(c.Coordinator())
	if err != nil {
		t.Fatal(err)
	}
	contenders, _ := zk.SortContenders(names)
	if len(contenders) == 0 {
		return ""
	}
	_, lock, err := conn.Get(path.Join(c.Coordinator(), contenders[0].Name))
	if err != nil {
		t.Fatal(err)
	}
	pods, _, err := conn.Children(c.Pods())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range pods {
		_, st, err := conn.Get(path.Join(c.Pods(), n))
		if node, perr := zk.ParsePodNode(n); err == nil && perr == nil && st.EphemeralOwner == lock.EphemeralOwner {
			return node.Key
		}
	}
	return ""
}

// mdNoNullData walks the tree: every node holds bytes, never null data (DESIGN §3); every contender of a pod
// of ours holds its key, and is named after it.
func mdNoNullData(t *testing.T, conn zk.Conn, ours map[string]bool) {
	t.Helper()
	var walk func(p string)
	walk = func(p string) {
		data, _, err := conn.Get(p)
		if err != nil {
			t.Errorf("get %s: %v", p, err)
			return
		}
		if data == nil {
			t.Errorf("%s holds null data", p)
		}
		if path.Base(path.Dir(p)) == "coordinator" {
			if ct, err := zk.ParseContender(path.Base(p)); err == nil && ours[string(data)] && ct.ID != leader.ContenderID(string(data)) {
				t.Errorf("contender %s holds the key %q of another pod", p, data)
			}
		}
		names, _, err := conn.Children(p)
		if err != nil {
			t.Errorf("children of %s: %v", p, err)
		}
		for _, n := range names {
			walk(path.Join(p, n))
		}
	}
	walk("/ochopod")
}

// Dependencies keyed as declared both ways, a wildcard's matches merged under it, and a change of leader
// between the two kinds with no change of membership: one configuration phase each time (the two kinds'
// hashes differ), and no process restarted, ours or theirs.
func TestIntegration_MixedClusterDependenciesAndLeaderChanges(t *testing.T) {
	srv := zkserver.Start(t)
	addr := srv.Addr()
	obs := observe(t, addr)
	dbDir, pDir, webDir := t.TempDir(), t.TempDir(), t.TempDir()
	db, p1c, p2c, web := zk.ClusterOf("it", "db"), zk.ClusterOf("it", "pbase-1"), zk.ClusterOf("it", "pbase-2"), zk.ClusterOf("it", "web")
	dependsOn := []string{"db", "pbase-*"}

	// The dependencies: db (ours, with a hash of null data left by an older pod), pbase-1 (ours), pbase-2
	// (original: its leader writes the snapshot as the original does).
	mdNullHash(t, addr, db)
	dbPod := startPodProcess(t, addr, "db", modelTimeout, mdReporter(dbDir)...)
	p1Pod := startPodProcess(t, addr, "pbase-1", modelTimeout, mdReporter(pDir)...)
	p2 := mdStartOriginal(t, addr, "pbase-2", nil)
	mdWaitConfigured(t, obs, db, nil, 1, modelDeadline)
	mdWaitConfigured(t, obs, p1c, nil, 1, modelDeadline)
	mdWaitView(t, obs, p2c, nil, modelDeadline, func(v mdView) bool { return slices.Equal(v.snapshotKeys, []string{p2.Key()}) })
	dbKey, _ := mdInfo(t, dbPod)["key"].(string)
	p1Key, _ := mdInfo(t, p1Pod)["key"].(string)
	want := map[string][]string{"db": {dbKey}, "pbase-*": {p1Key, p2.Key()}}
	sort.Strings(want["pbase-*"])

	// web: ours first, so that it leads; then an original pod joins.
	ourWeb := mdStartPod(t, addr, "web", modelTimeout, []string{"--depends-on", strings.Join(dependsOn, ",")}, mdReporter(webDir)...)
	mdWaitState(t, ourWeb, modelDeadline, "leader")
	theirWeb := mdStartOriginal(t, addr, "web", dependsOn)
	ourKey, _ := mdInfo(t, ourWeb)["key"].(string)

	// Under our leader: both kinds get the dependencies keyed as declared.
	mdWaitView(t, obs, web, dependsOn, modelDeadline, func(v mdView) bool { return len(v.live) == 2 && v.configured() })
	mdEventually(t, "the original web pod configured with the dependencies as declared", func() bool {
		got, _ := mdLastOn(theirWeb)
		return equalDeps(got, want)
	})
	starts := mdWaitStarts(t, webDir, modelDeadline, func(s []mdStart) bool {
		return len(s) > 0 && equalDeps(s[len(s)-1].depKeys(t), want)
	})
	ourPid, ourStarts := mdPid(mdInfo(t, ourWeb)), len(starts)
	if ourPid != starts[len(starts)-1].pid {
		t.Fatalf("our web pod runs pid %d, its last start was %d", ourPid, starts[len(starts)-1].pid)
	}
	_, ons := mdLastOn(theirWeb)

	// Ours → original: an operator deletes our lock node; ours contends again behind the original pod.
	names, _, err := obs.Children(web.Coordinator())
	if err != nil {
		t.Fatal(err)
	}
	deleted := false
	for _, n := range names {
		if data, _, err := obs.Get(path.Join(web.Coordinator(), n)); err == nil && string(data) == ourKey {
			if err := obs.Delete(path.Join(web.Coordinator(), n), zk.AnyVersion); err != nil {
				t.Fatal(err)
			}
			deleted = true
		}
	}
	if !deleted {
		t.Fatalf("no contender holds our web pod's key %s among %v", ourKey, names)
	}
	mdEventually(t, "the original web pod leads and configured", func() bool {
		n, h := theirWeb.Phases()
		data, _, _ := obs.Get(web.Hash())
		return theirWeb.Leading() && n > 0 && string(data) == h
	})
	mdWaitState(t, ourWeb, modelDeadline, "follower")
	if got := mdLeaderBySession(t, obs, web); got != theirWeb.Key() {
		t.Errorf("the leader found by session: %q, want the original pod %s", got, theirWeb.Key())
	}
	if got, n := mdLastOn(theirWeb); n <= ons || !equalDeps(got, want) {
		t.Errorf("under the original leader, the original pod's last on (%d ons, %d before): %v, want %v", n, ons, got, want)
	}

	// Original → ours: the original pod gives the lock up (Kazoo's release); ours leads and configures once.
	_, ons = mdLastOn(theirWeb)
	if err := theirWeb.StepDown(); err != nil {
		t.Fatal(err)
	}
	mdWaitState(t, ourWeb, modelDeadline, "leader")
	mdWaitView(t, obs, web, dependsOn, modelDeadline, func(v mdView) bool { return len(v.live) == 2 && v.configured() })
	mdEventually(t, "our leader configured the original pod", func() bool { _, n := mdLastOn(theirWeb); return n > ons })
	if got := mdLeaderBySession(t, obs, web); got != ourKey {
		t.Errorf("the leader found by session: %q, want ours %s", got, ourKey)
	}
	if got, _ := mdLastOn(theirWeb); !equalDeps(got, want) {
		t.Errorf("under our leader again, the original pod's last on: %v, want %v", got, want)
	}

	// No process restarted on either side.
	if pid := mdPid(mdInfo(t, ourWeb)); pid != ourPid {
		t.Errorf("our web pod's process changed: pid %d → %d", ourPid, pid)
	}
	if n := len(mdStarts(t, webDir)); n != ourStarts {
		t.Errorf("our web pod's command started %d times, %d before the leader changes", n, ourStarts)
	}
	if s, r := theirWeb.Starts(); s != 1 || r != 0 {
		t.Errorf("the original web pod started %d times, restarted %d: want 1 and 0", s, r)
	}

	mdNoNullData(t, obs, map[string]bool{dbKey: true, p1Key: true, ourKey: true})
}

func equalDeps(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if !slices.Equal(a[k], v) {
			return false
		}
	}
	return true
}
