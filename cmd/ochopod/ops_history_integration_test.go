package main

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// opsHistory is the cluster's history as `ochopod history -o json` prints it.
func opsHistory(t testing.TB, zkAddr, c string) []cluster.Phase {
	t.Helper()
	var phases []cluster.Phase
	opsJSON(t, &phases, "history", c, "--zk", zkAddr)
	return phases
}

// opsWaitHistory waits until the history holds more than n phases and the last one configured pods pods.
func opsWaitHistory(t testing.TB, zkAddr, c string, n, pods int) []cluster.Phase {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h := opsHistory(t, zkAddr, c)
		if len(h) > n && h[len(h)-1].Pods == pods {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("history of %s: no phase of %d pods after the %d first within 30s: %+v", c, pods, n, h)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// termPod sends SIGTERM (the pod leaves ZooKeeper at once) and waits for the process to end.
func termPod(t testing.TB, p *podProcess) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	mdWaitExit(t, p, 30*time.Second)
}

// DESIGN §13: the history shows a join, a leave, a hand-over and a pause/resume, in order, with their
// outcome; nothing is configured while paused.
func TestIntegration_HistoryOfJoinLeaveHandOverAndPause(t *testing.T) {
	srv := zkserver.Start(t)
	zkAddr := srv.Addr()
	start := func() *podProcess { return mdStartPod(t, zkAddr, "db", 10*time.Second, nil, "sleep", "600") }
	pods := []*podProcess{start(), start()}
	opsWaitLs(t, zkAddr, "it.db", 30*time.Second, settled(2))
	base := len(opsHistory(t, zkAddr, "it.db"))

	pods = append(pods, start()) // a join
	joined := opsWaitHistory(t, zkAddr, "it.db", base, 3)
	leader := joined[len(joined)-1].Leader

	views := opsWaitLs(t, zkAddr, "it.db", 30*time.Second, settled(3))
	var follower, lead *podProcess
	for _, p := range pods {
		info := mdInfo(t, p)
		switch {
		case info["key"] == views[0].Leader:
			lead = p
		case follower == nil:
			follower = p
		}
	}
	termPod(t, follower) // a leave
	left := opsWaitHistory(t, zkAddr, "it.db", len(joined), 2)

	termPod(t, lead) // a hand-over: the last pod leads, and configures the cluster without the old leader
	handed := opsWaitHistory(t, zkAddr, "it.db", len(left), 1)
	newLeader := handed[len(handed)-1].Leader
	if newLeader == leader {
		t.Fatalf("the phase after the hand-over names the old leader %s", leader)
	}

	opsOK(t, "pause", "it.db", "--zk", zkAddr)
	opsWaitLs(t, zkAddr, "it.db", 10*time.Second, func(v []lsCluster) bool {
		return len(v) == 1 && v[0].Paused && len(v[0].Pods) == 1 && v[0].Pods[0].State == "leader (paused)"
	})
	pods = append(pods, start()) // joins while paused: not configured
	opsWaitLs(t, zkAddr, "it.db", 30*time.Second, func(v []lsCluster) bool {
		return len(v) == 1 && len(v[0].Pods) == 2 && v[0].Pods[1].Role == "follower" && v[0].Pods[1].State == "follower"
	})
	mdNoChange(t, mdObserve(t, zkAddr), time.Second, zk.ClusterOf("it", "db").History(), zk.ClusterOf("it", "db").Hash())
	opsOK(t, "resume", "it.db", "--zk", zkAddr)
	resumed := opsWaitHistory(t, zkAddr, "it.db", len(handed), 2)

	got := resumed[base:]
	want := []struct {
		pods   int
		leader string
	}{{3, leader}, {2, leader}, {1, newLeader}, {2, newLeader}}
	if len(got) != len(want) {
		t.Fatalf("history after the first two pods: %+v, want %d phases", got, len(want))
	}
	for i, w := range want {
		if got[i].Pods != w.pods || got[i].Leader != w.leader || got[i].Outcome != "ok" || got[i].Hash == "" || i > 0 && got[i].At < got[i-1].At {
			t.Fatalf("phase %d: %+v, want %d pods by %s, ok", i, got[i], w.pods, w.leader)
		}
	}
	out := opsOK(t, "history", "db", "--zk", zkAddr)
	if strings.Count(out, " ok") < len(want) {
		t.Fatalf("history table:\n%s", out)
	}
	t.Logf("ochopod history db:\n%s", out)
}

// DESIGN §14: the leader of a cluster whose lock an original (Python) pod holds is that pod: its node was
// created empty then filled, and its Kazoo contender is named after a random uuid with no key in its data.
func TestIntegration_LsShowsAnOriginalPodAsLeader(t *testing.T) {
	srv := zkserver.Start(t)
	zkAddr := srv.Addr()
	c := zk.ClusterOf("it", "web")
	orig := mdObserve(t, zkAddr) // the original pod's session
	for _, p := range []string{c.Pods(), c.Coordinator()} {
		if err := zk.EnsurePath(orig, p); err != nil {
			t.Fatal(err)
		}
	}
	key := uuid.NewString()
	node, err := orig.Create(c.PodPrefix(key), []byte(""), zk.EphemeralSequential)
	if err != nil {
		t.Fatal(err)
	}
	_, seq, _ := zk.ParseSequential(node)
	port := freePort(t) // nothing answers there: the original pod is not really running
	body, _ := json.Marshal(map[string]any{"cluster": "web", "namespace": "it", "ip": "127.0.0.1", "public": "127.0.0.1",
		"port": "8080", "ports": map[string]int{"8080": port}, "seq": seq, "status": "", "binding": "marathon-ec2"})
	if _, err := orig.Set(node, body, zk.AnyVersion); err != nil {
		t.Fatal(err)
	}
	lock, err := orig.Create(c.Coordinator()+"/"+strings.ReplaceAll(uuid.NewString(), "-", "")+zk.LockMarker, []byte(""), zk.EphemeralSequential)
	if err != nil {
		t.Fatal(err)
	}
	ours := mdStartPod(t, zkAddr, "web", 10*time.Second, nil, "sleep", "600")
	views := opsWaitLs(t, zkAddr, "it.web", 30*time.Second, func(v []lsCluster) bool {
		return len(v) == 1 && len(v[0].Pods) == 2 && v[0].Pods[1].State == "follower"
	})
	v := views[0]
	if v.Leader != key || v.Lock != lock[strings.LastIndex(lock, "/")+1:] {
		t.Fatalf("leader %q lock %q, want the original pod %s holding %s", v.Leader, v.Lock, key, lock)
	}
	if p := podBySeq(v, seq); p.Key != key || p.Role != "leader" || p.Process != "unreachable" {
		t.Fatalf("the original pod: %+v", p)
	}
	if out := opsOK(t, "ls", "--zk", zkAddr); !strings.Contains(out, key[:8]) || !strings.Contains(out, "unreachable") {
		t.Fatalf("ls:\n%s", out)
	}
	// The original pod leaves: ours takes the lock, and ls follows.
	orig.Close()
	info := mdInfo(t, ours)
	opsWaitLs(t, zkAddr, "it.web", 30*time.Second, func(v []lsCluster) bool {
		return len(v) == 1 && len(v[0].Pods) == 1 && v[0].Leader == info["key"] && v[0].Pods[0].Role == "leader"
	})
}

// The same with testkit/original's pod, which behaves on the wire as the original's (it leads and configures
// ours): ls names it leader, its pods follow, and once it stops one of ours leads.
func TestIntegration_LsShowsAnOriginalLeaderOfAMixedCluster(t *testing.T) {
	srv := zkserver.Start(t)
	zkAddr := srv.Addr()
	orig := mdStartOriginal(t, zkAddr, "mixed", nil)
	opsWaitLs(t, zkAddr, "it.mixed", 30*time.Second, func(v []lsCluster) bool { return len(v) == 1 && v[0].Leader == orig.Key() })
	for range 2 {
		mdStartPod(t, zkAddr, "mixed", 10*time.Second, nil, "sleep", "600")
	}
	v := opsWaitLs(t, zkAddr, "it.mixed", 30*time.Second, func(v []lsCluster) bool {
		if len(v) != 1 || len(v[0].Pods) != 3 || v[0].Leader != orig.Key() {
			return false
		}
		running := 0
		for _, p := range v[0].Pods {
			if p.Process == "running" && p.Role == "follower" {
				running++
			}
		}
		return running == 2 // the original leader configured ours
	})[0]
	for _, p := range v.Pods {
		if (p.Key == orig.Key()) != (p.Role == "leader") {
			t.Fatalf("roles: %+v", v.Pods)
		}
	}
	orig.Stop()
	opsWaitLs(t, zkAddr, "it.mixed", 30*time.Second, func(v []lsCluster) bool {
		return len(v) == 1 && len(v[0].Pods) == 2 && v[0].Leader != "" && v[0].Leader != orig.Key() &&
			v[0].LastPhase != nil && v[0].LastPhase.Pods == 2
	})
}
