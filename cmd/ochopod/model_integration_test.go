package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// Process-level tests of the cluster model (DESIGN §7) and of what `ochopod run` hands its command (§11):
// real `ochopod run` processes on a real ZooKeeper. Each pod's command records the configuration it got in a
// file named after its pid (mdReporter), so a test sees every start and restart of every command.

const (
	modelDeadline = 30 * time.Second // generous: conditions are normally met within a few seconds
	modelTimeout  = 5 * time.Second  // session timeout where the test does not lose sessions on purpose
)

// mdCheckFirstStarts asserts that each pod's command was started exactly once with the whole cluster of keys.
func mdCheckFirstStarts(t *testing.T, starts []mdStart, keys []string, infos []map[string]any) {
	t.Helper()
	if len(starts) != len(keys) {
		t.Fatalf("%d starts for %d pods, want one each", len(starts), len(keys))
	}
	pids := map[string]int{}
	for _, m := range infos {
		k, _ := m["key"].(string)
		pids[k] = mdPid(m)
	}
	indexes := map[int]bool{}
	for _, s := range starts {
		if s.size != len(keys) {
			t.Errorf("pod %s started with OCHOPOD_SIZE=%d, want %d", s.key, s.size, len(keys))
		}
		if want := slices.Index(keys, s.key); s.index != want {
			t.Errorf("pod %s started with OCHOPOD_INDEX=%d, want %d (its rank by key)", s.key, s.index, want)
		}
		indexes[s.index] = true
		if got := s.podKeys(t); !slices.Equal(got, keys) {
			t.Errorf("pod %s: OCHOPOD_PODS lists %v, want %v", s.key, got, keys)
		}
		if s.pods != starts[0].pods {
			t.Errorf("pods %s and %s got different OCHOPOD_PODS:\n%s\n%s", s.key, starts[0].key, s.pods, starts[0].pods)
		}
		if pids[s.key] != s.pid {
			t.Errorf("pod %s: /info says pid %d, the command ran as %d", s.key, pids[s.key], s.pid)
		}
	}
	if len(indexes) != len(keys) {
		t.Errorf("indexes %v are not distinct", indexes)
	}
}

func mdCheckView(t *testing.T, v mdView, keys []string) {
	t.Helper()
	if !mdHashForm.MatchString(v.hash) {
		t.Errorf("hash %q is not colon-separated hex bytes", v.hash)
	}
	if !slices.Equal(v.snapshotKeys, keys) {
		t.Errorf("snapshot holds %v, want the pods %v", v.snapshotKeys, keys)
	}
}

// mdThreePods starts three pods with extra flags, together (mdStartTogether), and waits until they are
// configured and running. Started without holding the lock, the first phase may see one or two pods (damper
// 0), and a pod that is not strict keeps that first configuration when the others join; with a damper, a
// registration that lands while it runs hits the bug of TestIntegration_ModelChangeDuringTheDamper...
func mdThreePods(t *testing.T, addr, name, dir string, extra []string) ([]*podProcess, mdView, []map[string]any) {
	t.Helper()
	obs := observe(t, addr)
	c := zk.ClusterOf("it", name)
	pods := mdStartTogether(t, obs, c, 3, func() *podProcess {
		return mdStartPod(t, addr, name, modelTimeout, extra, mdReporter(dir)...)
	})
	v := mdWaitConfigured(t, obs, c, nil, 3, modelDeadline)
	infos := mdWaitAll(t, pods, modelDeadline, mdRunning)
	keys := mdKeys(infos)
	mdCheckView(t, v, keys)
	starts := mdWaitStarts(t, dir, modelDeadline, func(s []mdStart) bool { return len(s) >= 3 })
	mdCheckFirstStarts(t, starts, keys, infos)
	return pods, v, infos
}

func TestIntegration_ModelThreePodsConfiguredTogetherThenAJoinLeavesRunningProcessesAlone(t *testing.T) {
	srv := zkserver.Start(t)
	dir := t.TempDir()
	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "web")
	pods, v3, infos := mdThreePods(t, srv.Addr(), "web", dir, nil)

	began := time.Now()
	pods = append(pods, startPodProcess(t, srv.Addr(), "web", modelTimeout, mdReporter(dir)...))
	v4 := mdWaitConfigured(t, obs, c, nil, 4, modelDeadline)
	t.Logf("a fourth pod joined: configured %s after its process started", time.Since(began).Round(time.Millisecond))
	if v4.hash == v3.hash {
		t.Fatalf("the hash did not change with a fourth pod: %s", v4.hash)
	}
	all := mdWaitAll(t, pods, modelDeadline, mdRunning)
	keys := mdKeys(all)
	mdCheckView(t, v4, keys)
	newKey, _ := all[3]["key"].(string)
	starts := mdWaitStarts(t, dir, modelDeadline, func(s []mdStart) bool { return len(s) >= 4 })
	if len(starts) != 4 {
		t.Fatalf("%d starts, want 4: a running process was restarted without --strict", len(starts))
	}
	for i, m := range infos {
		if pid := mdPid(all[i]); pid != mdPid(m) {
			t.Errorf("pod %d: pid %d became %d without --strict", i, mdPid(m), pid)
		}
	}
	s := mdLatest(starts)[newKey]
	if s.size != 4 || s.index != slices.Index(keys, newKey) || !slices.Equal(s.podKeys(t), keys) {
		t.Errorf("the new pod started with index %d size %d pods %v; want %d, 4, %v",
			s.index, s.size, s.podKeys(t), slices.Index(keys, newKey), keys)
	}
	if s.pid != mdPid(all[3]) {
		t.Errorf("the new pod's /info pid %d, its command ran as %d", mdPid(all[3]), s.pid)
	}
}

func TestIntegration_ModelStrictRestartsEveryProcessWhenAPodJoins(t *testing.T) {
	srv := zkserver.Start(t)
	dir := t.TempDir()
	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "strict")
	extra := []string{"--strict"}
	pods, v3, infos := mdThreePods(t, srv.Addr(), "strict", dir, extra)

	pods = append(pods, mdStartPod(t, srv.Addr(), "strict", modelTimeout, extra, mdReporter(dir)...))
	v4 := mdWaitConfigured(t, obs, c, nil, 4, modelDeadline)
	if v4.hash == v3.hash {
		t.Fatalf("the hash did not change with a fourth pod: %s", v4.hash)
	}
	all := mdWaitAll(t, pods, modelDeadline, mdRunning)
	keys := mdKeys(all)
	mdCheckView(t, v4, keys)
	starts := mdWaitStarts(t, dir, modelDeadline, func(s []mdStart) bool {
		latest := mdLatest(s)
		if len(latest) != 4 {
			return false
		}
		for _, r := range latest {
			if r.size != 4 {
				return false
			}
		}
		return true
	})
	latest := mdLatest(starts)
	for i, m := range all {
		key, _ := m["key"].(string)
		r := latest[key]
		if r.pid != mdPid(m) {
			t.Errorf("pod %d: /info pid %d, its last command ran as %d", i, mdPid(m), r.pid)
		}
		if r.index != slices.Index(keys, key) || !slices.Equal(r.podKeys(t), keys) {
			t.Errorf("pod %d restarted with index %d pods %v", i, r.index, r.podKeys(t))
		}
		if i < 3 {
			old := mdPid(infos[i])
			if old == mdPid(m) {
				t.Errorf("pod %d: its process (pid %d) was not restarted with --strict", i, old)
			}
			if !mdGone(old) {
				t.Errorf("pod %d: the old process %d still runs", i, old)
			}
		}
	}
	if len(starts) != 7 {
		t.Errorf("%d starts, want 7 (3 at first, then 4)", len(starts))
	}
}

func TestIntegration_ModelDependentIsReconfiguredWhenItsDependencyIs(t *testing.T) {
	srv := zkserver.Start(t)
	dbDir, webDir := t.TempDir(), t.TempDir()
	obs := observe(t, srv.Addr())
	db, web := zk.ClusterOf("it", "db"), zk.ClusterOf("it", "web")
	deps := []string{"db"} // as --depends-on names it

	dbPods := []*podProcess{startPodProcess(t, srv.Addr(), "db", modelTimeout, mdReporter(dbDir)...)}
	mdWaitConfigured(t, obs, db, nil, 1, modelDeadline)
	dbKey1, _ := mdInfo(t, dbPods[0])["key"].(string)
	webPods := make([]*podProcess, 2)
	for i := range webPods {
		webPods[i] = mdStartPod(t, srv.Addr(), "web", modelTimeout, []string{"--depends-on", "db"}, mdReporter(webDir)...)
	}
	mdWaitConfigured(t, obs, web, deps, 2, modelDeadline)
	before := mdWaitAll(t, webPods, modelDeadline, mdRunning)
	mdWaitStarts(t, webDir, modelDeadline, func(s []mdStart) bool {
		latest := mdLatest(s)
		return len(latest) == 2 && slices.Equal(latest[mdKeys(before)[0]].depKeys(t)["db"], []string{dbKey1}) &&
			slices.Equal(latest[mdKeys(before)[1]].depKeys(t)["db"], []string{dbKey1})
	})

	// A db pod joins: db is configured again, its snapshot changes, and web follows.
	dbPods = append(dbPods, startPodProcess(t, srv.Addr(), "db", modelTimeout, mdReporter(dbDir)...))
	dbView := mdWaitConfigured(t, obs, db, nil, 2, modelDeadline)
	mdWaitView(t, obs, web, deps, modelDeadline, func(v mdView) bool { return len(v.live) == 2 && v.configured() })
	starts := mdWaitStarts(t, webDir, modelDeadline, func(s []mdStart) bool {
		for _, r := range mdLatest(s) {
			if !slices.Equal(r.depKeys(t)["db"], dbView.live) {
				return false
			}
		}
		return true
	})
	after := mdWaitAll(t, webPods, modelDeadline, mdRunning)
	latest := mdLatest(starts)
	for i, m := range after {
		key, _ := m["key"].(string)
		if mdPid(m) == mdPid(before[i]) || latest[key].pid != mdPid(m) {
			t.Errorf("web pod %d: pid %d → %d, last start %d: not restarted with the new dependencies",
				i, mdPid(before[i]), mdPid(m), latest[key].pid)
		}
		if latest[key].size != 2 {
			t.Errorf("web pod %d restarted with size %d", i, latest[key].size)
		}
	}
	if got := len(mdStarts(t, dbDir)); got != 2 {
		t.Errorf("db commands started %d times, want 2 (the first db pod is not restarted)", got)
	}
}

func TestIntegration_ModelDependencyPodFlappingWithinItsDamperLeavesDependentsAlone(t *testing.T) {
	srv := zkserver.Start(t)
	dbDir, webDir := t.TempDir(), t.TempDir()
	obs := observe(t, srv.Addr())
	db, web := zk.ClusterOf("it", "db"), zk.ClusterOf("it", "web")
	deps := []string{"db"} // as --depends-on names it
	// A long damper on db; not 30 s, since db's first configuration waits for it too.
	const damper = 6 * time.Second
	dbExtra := []string{"--damper", damper.String()}

	dbLeader := mdStartPod(t, srv.Addr(), "db", modelTimeout, dbExtra, mdReporter(dbDir)...)
	dbBefore := mdWaitConfigured(t, obs, db, nil, 1, modelDeadline)
	web1 := mdStartPod(t, srv.Addr(), "web", modelTimeout, []string{"--depends-on", "db"}, mdReporter(webDir)...)
	webBefore := mdWaitConfigured(t, obs, web, deps, 1, modelDeadline)
	webInfo := waitInfo(t, web1, mdRunning)
	mdWaitStarts(t, webDir, modelDeadline, func(s []mdStart) bool { return len(s) == 1 })

	// A db pod comes and goes within db's damper: db is never configured again, its snapshot keeps its content.
	flapper := mdStartPod(t, srv.Addr(), "db", modelTimeout, dbExtra, mdReporter(dbDir)...)
	mdWaitState(t, dbLeader, modelDeadline, "leader (configuration pending)")
	pendingSince := time.Now()
	flapKey, _ := waitInfo(t, flapper, func(m map[string]any) bool { return m["registered"] == true })["key"].(string)
	if err := flapper.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	mdWaitExit(t, flapper, modelDeadline)
	mdWaitState(t, dbLeader, modelDeadline, "leader")
	if left := time.Since(pendingSince); left > damper {
		t.Fatalf("the flap took %s, longer than db's damper %s: the test proves nothing", left, damper)
	}
	// Past the end of the damper the flap started, nothing of web, and not db's hash, changes.
	mdNoChange(t, obs, time.Until(pendingSince.Add(damper+2*time.Second)), web.Hash(), web.Snapshot(), db.Hash())

	dbAfter, err := mdReadView(obs, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dbAfter.hash != dbBefore.hash || !slices.Equal(dbAfter.snapshotKeys, dbBefore.snapshotKeys) {
		t.Errorf("db changed: %s → %s", dbBefore, dbAfter)
	}
	// The revert rewrote db's snapshot (same content): web's watch on it fired, and web computed the same hash.
	t.Logf("db's snapshot version %d → %d", dbBefore.snapVersion, dbAfter.snapVersion)
	webAfter, err := mdReadView(obs, web, deps)
	if err != nil {
		t.Fatal(err)
	}
	if webAfter.hash != webBefore.hash || !webAfter.configured() {
		t.Errorf("web changed: %s → %s", webBefore, webAfter)
	}
	if got := len(mdStarts(t, webDir)); got != 1 {
		t.Errorf("web's command started %d times, want 1", got)
	}
	if pid := mdPid(mdInfo(t, web1)); pid != mdPid(webInfo) {
		t.Errorf("web's process changed: pid %d → %d", mdPid(webInfo), pid)
	}
	for _, s := range mdStarts(t, dbDir) {
		if s.key == flapKey {
			t.Errorf("the flapping db pod's command was started (pid %d)", s.pid)
		}
	}
}

func TestIntegration_ModelWildcardDependencyPicksUpAClusterCreatedLater(t *testing.T) {
	srv := zkserver.Start(t)
	dbDir, webDir := t.TempDir(), t.TempDir()
	obs := observe(t, srv.Addr())
	dbx, web := zk.ClusterOf("it", "db-x"), zk.ClusterOf("it", "web")

	web1 := mdStartPod(t, srv.Addr(), "web", modelTimeout, []string{"--depends-on", "db-*"}, mdReporter(webDir)...)
	mdWaitConfigured(t, obs, web, []string{"db-*"}, 1, modelDeadline) // the entry is there, with no pod
	waitInfo(t, web1, mdRunning)
	first := mdWaitStarts(t, webDir, modelDeadline, func(s []mdStart) bool { return len(s) == 1 })
	if d := first[0].depKeys(t); len(d) != 1 || d["db-*"] == nil || len(d["db-*"]) != 0 {
		t.Fatalf("web started with dependencies %v before any db-* cluster existed, want db-* and no pod", d)
	}

	dbPod := startPodProcess(t, srv.Addr(), "db-x", modelTimeout, mdReporter(dbDir)...)
	mdWaitConfigured(t, obs, dbx, nil, 1, modelDeadline)
	dbKey, _ := mdInfo(t, dbPod)["key"].(string)
	mdWaitView(t, obs, web, []string{"db-*"}, modelDeadline, func(v mdView) bool { return len(v.live) == 1 && v.configured() })
	starts := mdWaitStarts(t, webDir, modelDeadline, func(s []mdStart) bool {
		last := s[len(s)-1].depKeys(t)
		return slices.Equal(last["db-*"], []string{dbKey}) // DESIGN §11: keyed as declared
	})
	last := starts[len(starts)-1]
	if pid := mdPid(waitInfo(t, web1, mdRunning)); pid != last.pid {
		t.Errorf("web's process is %d, its last start %d", pid, last.pid)
	}
	for _, s := range starts {
		t.Logf("web's command started as pid %d with OCHOPOD_DEPENDENCIES=%s", s.pid, s.deps)
	}
}

// A pod of the original registers in two steps: it creates its node empty, then writes its payload with its
// seq, which changes no child of pods/. The leader counts no pod before its seq is written (its registration
// may still fail and take another seq), and configures it as soon as it is.
func TestIntegration_ModelConfiguresAPodAsSoonAsItWroteItsSeq(t *testing.T) {
	srv := zkserver.Start(t)
	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "mixed")
	ours := mdStartPod(t, srv.Addr(), "mixed", modelTimeout, nil, "sleep", "600")
	mdWaitConfigured(t, obs, c, nil, 1, modelDeadline)
	ourKey, _ := mdInfo(t, ours)["key"].(string)

	fake := httptest.NewServer(control.Handler(mdOKBackend{}, nil, control.Settings{}, nil)) // its control port
	t.Cleanup(fake.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(fake.URL, "http://"))
	body := func(seq int64) []byte {
		p := fmt.Sprintf(`{"cluster":"mixed","namespace":"it","ip":"127.0.0.1","public":"127.0.0.1","port":"8080","ports":{"8080":%s}`, port)
		if seq >= 0 {
			p += fmt.Sprintf(`,"seq":%d`, seq)
		}
		return []byte(p + "}")
	}
	theirs, stuck := "0f0f0f0f-0000-4000-8000-000000000001", "0f0f0f0f-0000-4000-8000-000000000002"
	created, err := obs.Create(c.PodPrefix(theirs), nil, zk.EphemeralSequential)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.Create(c.PodPrefix(stuck), body(-1), zk.EphemeralSequential); err != nil { // never writes its seq
		t.Fatal(err)
	}
	_, seq, _ := zk.ParseSequential(created)
	waitLog(t, ours, path.Base(created)) // the leader read the cluster with both nodes still registering
	if _, err := obs.Set(created, body(seq), zk.AnyVersion); err != nil {
		t.Fatal(err)
	}
	v := mdWaitView(t, obs, c, nil, modelDeadline, func(v mdView) bool { return len(v.snapshotKeys) == 2 && v.configured() })
	want := []string{ourKey, theirs}
	slices.Sort(want)
	if !slices.Equal(v.snapshotKeys, want) {
		t.Fatalf("snapshot %v, want %v: the pod still registering is no pod", v.snapshotKeys, want)
	}
	var got map[string]any
	if err := json.Unmarshal(v.snapshot[theirs], &got); err != nil || got["seq"] != float64(seq) {
		t.Fatalf("their payload in the snapshot: %s (%v), want seq %d", v.snapshot[theirs], err, seq)
	}
	out, err := exec.Command(buildBinary(t), "ls", c.Qualified, "--zk-only", "--zk", srv.Addr(), "-o", "json").Output()
	if err != nil {
		t.Fatalf("ochopod ls: %v\n%s", err, out)
	}
	var views []lsCluster
	if err := json.Unmarshal(out, &views); err != nil || len(views) != 1 {
		t.Fatalf("ochopod ls: %v\n%s", err, out)
	}
	for _, p := range views[0].Pods {
		if (p.Key == stuck) != (p.Role == "registering") {
			t.Errorf("ochopod ls: %+v: only %s is still registering", p, stuck)
		}
	}
}

// mdOKBackend answers every control request 200: the control port of a pod the test plays itself.
type mdOKBackend struct{}

func (mdOKBackend) Info(context.Context) (map[string]any, error) { return map[string]any{}, nil }
func (mdOKBackend) Log() []string                                { return nil }
func (mdOKBackend) Reset(string)                                 {}
func (mdOKBackend) Control(context.Context, control.Request) (int, []byte, error) {
	return http.StatusOK, []byte(`{}`), nil
}

func TestIntegration_ModelLeaderKilledInTheMiddleOfAPhaseANewLeaderConfigures(t *testing.T) {
	srv := zkserver.Start(t)
	dir := t.TempDir()
	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "mid")
	const timeout = 3 * time.Second
	pods := make([]*podProcess, 3)
	for i := range pods {
		pods[i] = startPodProcess(t, srv.Addr(), "mid", timeout, mdReporter(dir)...)
	}
	mdWaitConfigured(t, obs, c, nil, 3, modelDeadline)
	before := mdWaitAll(t, pods, modelDeadline, mdRunning)
	lead := mdLeader(t, pods)
	if lead < 0 {
		t.Fatal("no leader")
	}
	slow := (lead + 1) % 3 // a follower whose control port does not answer while it is stopped
	if err := pods[slow].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			_ = pods[slow].cmd.Process.Signal(syscall.SIGCONT)
		}
	}()

	// A fourth pod joins: the leader's phase waits for the stopped pod's reply to check (1.25 × grace).
	pods = append(pods, startPodProcess(t, srv.Addr(), "mid", timeout, mdReporter(dir)...))
	mdWaitState(t, pods[lead], modelDeadline, "leader (configuring)")
	leaderKey, _ := before[lead]["key"].(string)
	if err := pods[lead].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	mdWaitExit(t, pods[lead], modelDeadline)
	if err := pods[slow].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false

	// The killed leader's session expires, another pod leads and configures the three pods left.
	v := mdWaitView(t, obs, c, nil, modelDeadline, func(v mdView) bool {
		return len(v.live) == 3 && !slices.Contains(v.live, leaderKey) && v.configured()
	})
	t.Logf("configured by the new leader %s after the SIGKILL (session timeout %s)", time.Since(killed).Round(time.Millisecond), timeout)
	next, _ := waitOneLeader(t, pods, lead, modelDeadline)
	if next == lead {
		t.Fatal("the killed pod leads")
	}
	after := mdWaitAll(t, slices.Delete(slices.Clone(pods), lead, lead+1), modelDeadline, mdRunning)
	keys := mdKeys(after)
	mdCheckView(t, v, keys)
	joinKey, _ := after[len(after)-1]["key"].(string)
	starts := mdWaitStarts(t, dir, modelDeadline, func(s []mdStart) bool { _, ok := mdLatest(s)[joinKey]; return ok })
	if len(starts) != 4 {
		t.Errorf("%d starts, want 4 (3 first, then the pod that joined)", len(starts))
	}
	j := mdLatest(starts)[joinKey]
	if j.size != 3 || !slices.Equal(j.podKeys(t), keys) || j.index != slices.Index(keys, joinKey) {
		t.Errorf("the joining pod started with index %d size %d pods %v, want %d 3 %v",
			j.index, j.size, j.podKeys(t), slices.Index(keys, joinKey), keys)
	}
}

func TestIntegration_ModelDeposedLeaderCannotWrite(t *testing.T) {
	srv := zkserver.Start(t)
	dir := t.TempDir()
	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "deposed")
	const timeout = 2 * time.Second
	extra := []string{"--damper", "2s"}
	pods := mdStartTogether(t, obs, c, 3, func() *podProcess {
		return mdStartPod(t, srv.Addr(), "deposed", timeout, extra, mdReporter(dir)...)
	})
	v0 := mdWaitConfigured(t, obs, c, nil, 3, modelDeadline)
	infos := mdWaitAll(t, pods, modelDeadline, mdRunning)
	old := mdLeader(t, pods)
	if old < 0 {
		t.Fatal("no leader")
	}
	oldKey, _ := infos[old]["key"].(string)
	oldSession := v0.snapOwner // the leader wrote the snapshot: its session owns it
	if oldSession == 0 {
		t.Fatal("the snapshot has no ephemeral owner")
	}
	writes := strings.Count(pods[old].out.String(), "snapshot and hash written")

	// A pod joins; while the leader's damper runs, the leader freezes past its session timeout.
	pods = append(pods, mdStartPod(t, srv.Addr(), "deposed", timeout, extra, mdReporter(dir)...))
	mdWaitState(t, pods[old], modelDeadline, "leader (configuration pending)")
	if err := pods[old].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = pods[old].cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	logAtStop := len(pods[old].out.String())

	// Another pod takes over and configures the pods left (the frozen one's node went with its session).
	v1 := mdWaitView(t, obs, c, nil, modelDeadline, func(v mdView) bool {
		return len(v.live) == 3 && !slices.Contains(v.live, oldKey) && v.configured()
	})
	if v1.snapOwner == oldSession {
		t.Fatal("the snapshot is still the old leader's")
	}
	newLeader := mdLeaderExcept(t, pods, old) // the frozen pod would not answer

	// The old leader wakes up with its damper expired: whatever it tries is refused, it learns its session
	// expired, registers again as a follower, and the new leader configures it back in.
	if err := pods[old].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	waitInfo(t, pods[old], func(m map[string]any) bool { return m["registered"] == true && m["state"] == "follower" })
	v2 := mdWaitConfigured(t, obs, c, nil, 4, modelDeadline)
	if !slices.Contains(v2.live, oldKey) {
		t.Fatalf("the old leader is not back among the pods: %s", v2)
	}
	if v2.snapOwner == oldSession {
		t.Fatal("the deposed leader's session owns the snapshot")
	}
	lead, _ := waitOneLeader(t, pods, -1, modelDeadline)
	if lead == old {
		t.Fatal("the deposed pod leads again")
	}
	if lead != newLeader {
		t.Errorf("leadership moved again: pod %d, then pod %d", newLeader, lead)
	}

	log := pods[old].out.String()
	after := log[logAtStop:]
	if got := strings.Count(log, "snapshot and hash written"); got != writes {
		t.Errorf("the deposed leader wrote the configuration %d times after it lost its session:\n%s", got-writes, after)
	}
	for _, want := range []string{"session expired: registering again", "msg=registered"} {
		if !strings.Contains(after, want) {
			t.Errorf("the deposed leader's log does not say %q after the freeze:\n%s", want, after)
		}
	}
	for _, line := range strings.Split(after, "\n") {
		for _, what := range []string{"actor=model", "expired", "stepping down"} {
			if strings.Contains(line, what) {
				t.Logf("deposed leader: %s", line)
				break
			}
		}
	}
	if now := mdWaitAll(t, []*podProcess{pods[old]}, modelDeadline, mdRunning); mdPid(now[0]) != mdPid(infos[old]) {
		t.Errorf("the deposed leader's process changed: %d → %d", mdPid(infos[old]), mdPid(now[0]))
	}
}

func TestIntegration_ModelPodJoiningAndLeavingWithinTheDamperConfiguresNothing(t *testing.T) {
	srv := zkserver.Start(t)
	dir := t.TempDir()
	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "damped")
	const damper = 3 * time.Second
	extra := []string{"--damper", damper.String()}
	pods, before, infos := mdThreePods(t, srv.Addr(), "damped", dir, extra)
	lead := mdLeader(t, pods)
	if lead < 0 {
		t.Fatal("no leader")
	}

	flapper := mdStartPod(t, srv.Addr(), "damped", modelTimeout, extra, mdReporter(dir)...)
	mdWaitState(t, pods[lead], modelDeadline, "leader (configuration pending)")
	pendingSince := time.Now()
	flapKey, _ := waitInfo(t, flapper, func(m map[string]any) bool { return m["registered"] == true })["key"].(string)
	if err := flapper.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	mdWaitExit(t, flapper, modelDeadline)
	mdWaitState(t, pods[lead], modelDeadline, "leader")
	if took := time.Since(pendingSince); took > damper {
		t.Fatalf("the flap took %s, longer than the damper %s: the test proves nothing", took, damper)
	}
	mdNoChange(t, obs, time.Until(pendingSince.Add(damper+2*time.Second)), c.Hash())

	after, err := mdReadView(obs, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after.hash != before.hash || !slices.Equal(after.snapshotKeys, before.snapshotKeys) || !after.configured() {
		t.Errorf("the cluster changed: %s → %s", before, after)
	}
	if !strings.Contains(pods[lead].out.String(), "the change reverted within the damper") {
		t.Errorf("the leader's log does not say the change reverted")
	}
	starts := mdStarts(t, dir)
	if len(starts) != 3 {
		t.Errorf("%d starts, want the 3 first ones", len(starts))
	}
	for _, s := range starts {
		if s.key == flapKey {
			t.Errorf("the flapping pod's command was started")
		}
	}
	for i, m := range mdWaitAll(t, pods, modelDeadline, mdRunning) {
		if mdPid(m) != mdPid(infos[i]) {
			t.Errorf("pod %d's process changed: %d → %d", i, mdPid(infos[i]), mdPid(m))
		}
	}
}

// A leader frozen past its session timeout wakes up with its damper expired. Before it touches any pod, the
// phase's guard checks the lock: the session is gone, so no check, on or ok goes out with its stale view (with
// --strict that would restart every process with a cluster no leader ever wrote).
func TestIntegration_ModelDeposedLeaderRunsNoStalePhase(t *testing.T) {
	srv := zkserver.Start(t)
	dir := t.TempDir()
	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "stale")
	const timeout = 2 * time.Second
	extra := []string{"--damper", "2s", "--strict"}
	pods := mdStartTogether(t, obs, c, 3, func() *podProcess {
		return mdStartPod(t, srv.Addr(), "stale", timeout, extra, mdReporter(dir)...)
	})
	mdWaitConfigured(t, obs, c, nil, 3, modelDeadline)
	infos := mdWaitAll(t, pods, modelDeadline, mdRunning)
	old := mdLeader(t, pods)
	if old < 0 {
		t.Fatal("no leader")
	}
	oldKey, _ := infos[old]["key"].(string)
	pods = append(pods, mdStartPod(t, srv.Addr(), "stale", timeout, extra, mdReporter(dir)...))
	mdWaitState(t, pods[old], modelDeadline, "leader (configuration pending)")
	if err := pods[old].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	v := mdWaitView(t, obs, c, nil, modelDeadline, func(v mdView) bool {
		return len(v.live) == 3 && !slices.Contains(v.live, oldKey) && v.configured()
	})
	seen := len(mdStarts(t, dir))
	if err := pods[old].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// Either the deposed pod registers again (no stale phase), or a process restarts with it in the cluster.
	var stale []mdStart
	deadline := time.Now().Add(modelDeadline)
	for len(stale) == 0 {
		if back, err := mdReadView(obs, c, nil); err == nil && slices.Contains(back.live, oldKey) {
			return // registered again (its /info said registered all along: it had not noticed yet)
		}
		for _, s := range mdStarts(t, dir)[seen:] {
			if s.key != oldKey && slices.Contains(s.podKeys(t), oldKey) {
				stale = append(stale, s)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the deposed pod did not register again")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The deposed pod dies before it registers again: nothing will ever reconfigure the live pods.
	if err := pods[old].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	mdWaitExit(t, pods[old], modelDeadline)
	mdNoChange(t, obs, 3*time.Second, c.Hash())
	now, err := mdReadView(obs, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	for key, s := range mdLatest(mdStarts(t, dir)) {
		if key == oldKey || !slices.Contains(now.live, key) {
			continue
		}
		if got := s.podKeys(t); !slices.Equal(got, now.live) {
			t.Errorf("pod %s runs with the cluster %v (size %d) while ZooKeeper's snapshot is %v (hash %s, unchanged since %s)",
				key, got, s.size, now.snapshotKeys, now.hash, v.hash)
		}
	}
}

// A change that comes while the damper runs (a second pod joins after the first one made the cluster dirty)
// is configured when the damper expires (the damper timer has its own generation).
func TestIntegration_ModelChangeDuringTheDamperIsConfiguredWhenItExpires(t *testing.T) {
	srv := zkserver.Start(t)
	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "damper")
	const damper = 2 * time.Second
	extra := []string{"--damper", damper.String()}
	pods := []*podProcess{mdStartPod(t, srv.Addr(), "damper", modelTimeout, extra, "sleep", "600")}
	mdWaitConfigured(t, obs, c, nil, 1, modelDeadline)
	pods = append(pods, mdStartPod(t, srv.Addr(), "damper", modelTimeout, extra, "sleep", "600"))
	mdWaitState(t, pods[0], modelDeadline, "leader (configuration pending)")
	pods = append(pods, mdStartPod(t, srv.Addr(), "damper", modelTimeout, extra, "sleep", "600"))
	waitInfo(t, pods[2], func(m map[string]any) bool { return m["registered"] == true })
	began := time.Now()
	mdWaitView(t, obs, c, nil, damper+10*time.Second, func(v mdView) bool { return len(v.live) == 3 && v.configured() })
	t.Logf("configured %s after the third pod registered", time.Since(began).Round(time.Millisecond))
}
