package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/actors/model"
	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
)

// Helpers of the model's process-level tests and benchmark (DESIGN §7, §11).

// mdHashForm is the original's readable MD5: 16 hex bytes joined by colons.
var mdHashForm = regexp.MustCompile(`^([0-9a-f]{2}:){15}[0-9a-f]{2}$`)

// modelPorts hands out control ports no other pod of this test binary got, since freePort alone may give the
// same port twice once its listener is closed.
var (
	modelPortsMu sync.Mutex       //nolint:gochecknoglobals // test-only
	modelPorts   = map[int]bool{} //nolint:gochecknoglobals
)

func mdPort(t testing.TB) int {
	t.Helper()
	modelPortsMu.Lock()
	defer modelPortsMu.Unlock()
	for range 100 {
		p := freePort(t)
		if !modelPorts[p] {
			modelPorts[p] = true
			return p
		}
	}
	t.Fatal("no free port left")
	return 0
}

// mdStartPod is startPodProcess with more flags after the usual ones (later flags win: "--log-level info"
// overrides the debug level).
func mdStartPod(t testing.TB, zkAddr, clusterName string, timeout time.Duration, extra []string, command ...string) *podProcess {
	t.Helper()
	return mdStartPodLogging(t, false, zkAddr, clusterName, timeout, extra, command...)
}

// mdStartPodLogging is mdStartPod; with toFile the pod writes its output to a file by itself instead of to a
// pipe the test process reads. A bench of many pods on two cores then does not pay, in its own process, for
// every line the pods log: the secured mode logs an audit line per request where the plain one logs none, so
// reading pipes would charge the harness's work to the secured phases. waitLog cannot wait on such a pod.
func mdStartPodLogging(t testing.TB, toFile bool, zkAddr, clusterName string, timeout time.Duration, extra []string, command ...string) *podProcess {
	t.Helper()
	port := mdPort(t)
	args := []string{"run", "--binding", "local", "--port", strconv.Itoa(port), "--cluster", clusterName,
		"--namespace", "it", "--zk", zkAddr, "--session-timeout", timeout.String(), "--log-level", "debug"}
	args = append(args, extra...)
	if len(command) > 0 {
		args = append(append(args, "--"), command...)
	}
	cmd := exec.Command(buildBinary(t), args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if toFile {
		f, err := os.Create(filepath.Join(t.TempDir(), fmt.Sprintf("pod-%d.log", port)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close() // once started, the pod has a descriptor of its own
		out.path = f.Name()
		cmd.Stdout, cmd.Stderr = f, f
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &podProcess{port: port, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the pod, stopped or not; its command dies with it
		<-p.done
		if t.Failed() {
			t.Logf("pod on port %d (args %v):\n%s", port, args[1:], out.String())
		}
	})
	return p
}

// mdReporter is a pod command that records, in a file of dir named after its pid, the configuration it
// was started with, then sleeps. Every (re)start is a new pid, so a new file.
func mdReporter(dir string) []string {
	script := `f=` + dir + `/start.$$; printf '%s\n%s\n%s\n%s\n%s\n' "$OCHOPOD_KEY" "$OCHOPOD_INDEX" "$OCHOPOD_SIZE" ` +
		`"$OCHOPOD_PODS" "$OCHOPOD_DEPENDENCIES" > $f.tmp && mv $f.tmp $f; exec sleep 600`
	return []string{"sh", "-c", script}
}

// mdStart is one start of a pod's command.
type mdStart struct {
	pid   int
	key   string
	index int
	size  int
	pods  string // OCHOPOD_PODS as received
	deps  string // OCHOPOD_DEPENDENCIES as received
	order time.Time
}

// podKeys are the keys of OCHOPOD_PODS, in its order.
func (s mdStart) podKeys(t testing.TB) []string {
	t.Helper()
	var pods []map[string]any
	if err := json.Unmarshal([]byte(s.pods), &pods); err != nil {
		t.Fatalf("OCHOPOD_PODS of pid %d: %v: %q", s.pid, err, s.pods)
	}
	keys := make([]string, 0, len(pods))
	for _, p := range pods {
		k, _ := p["key"].(string)
		keys = append(keys, k)
	}
	return keys
}

// depKeys are the pod keys of each dependency in OCHOPOD_DEPENDENCIES.
func (s mdStart) depKeys(t testing.TB) map[string][]string {
	t.Helper()
	var deps map[string][]map[string]any
	if err := json.Unmarshal([]byte(s.deps), &deps); err != nil {
		t.Fatalf("OCHOPOD_DEPENDENCIES of pid %d: %v: %q", s.pid, err, s.deps)
	}
	out := map[string][]string{}
	for name, pods := range deps {
		out[name] = []string{}
		for _, p := range pods {
			k, _ := p["key"].(string)
			out[name] = append(out[name], k)
		}
	}
	return out
}

// mdStarts reads every start recorded in dir, oldest first.
func mdStarts(t testing.TB, dir string) []mdStart {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []mdStart
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "start.") || strings.HasSuffix(name, ".tmp") {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimPrefix(name, "start."))
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(lines) != 5 {
			t.Fatalf("%s: %d lines, want 5: %q", name, len(lines), data)
		}
		index, err1 := strconv.Atoi(lines[1])
		size, err2 := strconv.Atoi(lines[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: bad index or size: %q", name, data)
		}
		out = append(out, mdStart{pid: pid, key: lines[0], index: index, size: size, pods: lines[3], deps: lines[4], order: info.ModTime()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].order.Before(out[j].order) })
	return out
}

// mdLatest keeps the last start of each pod.
func mdLatest(starts []mdStart) map[string]mdStart {
	out := map[string]mdStart{}
	for _, s := range starts {
		out[s.key] = s
	}
	return out
}

// mdWaitStarts polls dir (integration tests may poll with a deadline) until ok holds for the starts recorded.
func mdWaitStarts(t testing.TB, dir string, within time.Duration, ok func([]mdStart) bool) []mdStart {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		starts := mdStarts(t, dir)
		if ok(starts) {
			return starts
		}
		if time.Now().After(deadline) {
			for _, s := range starts {
				t.Logf("start pid=%d key=%s index=%d size=%d deps=%s", s.pid, s.key, s.index, s.size, s.deps)
			}
			t.Fatalf("the pods' commands did not report the expected starts within %s", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mdObserve is observe for benchmarks too.
func mdObserve(t testing.TB, addr string) zk.Conn {
	t.Helper()
	ens, err := zk.ParseEnsemble(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := gozk.Connect(ctx, ens, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// mdView is what ZooKeeper holds of one cluster's configuration.
type mdView struct {
	hash         string   // the hash node
	snapshotKeys []string // the snapshot's keys, sorted; nil without a snapshot
	snapshot     map[string]json.RawMessage
	snapOwner    int64    // the snapshot's ephemeral owner (the writer's session)
	snapVersion  int32    // the snapshot's version
	live         []string // keys of the live pods, sorted
	want         string   // the hash a leader computes over the live pods and the dependencies' snapshots
}

// configured holds when the hash in ZooKeeper is the one of the live pods (and dependencies), and the
// snapshot lists exactly those pods.
func (v mdView) configured() bool {
	return v.hash != "" && v.hash == v.want && strings.Join(v.snapshotKeys, ",") == strings.Join(v.live, ",")
}

func (v mdView) String() string {
	return fmt.Sprintf("hash %q (want %q), snapshot %v, live %v", v.hash, v.want, v.snapshotKeys, v.live)
}

// mdReadView reads c's hash, snapshot and live pods, and computes the hash the model would over them and over
// the snapshots of what dependsOn names (as --depends-on takes it), the way the model reads them
// (actors/model/zkio.go).
func mdReadView(conn zk.Conn, c zk.Cluster, dependsOn []string) (mdView, error) {
	var v mdView
	hash, _, err := conn.Get(c.Hash())
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return v, err
	}
	v.hash = string(hash)
	snap, st, err := conn.Get(c.Snapshot())
	switch {
	case errors.Is(err, zk.ErrNoNode):
	case err != nil:
		return v, err
	default:
		if err := json.Unmarshal(snap, &v.snapshot); err != nil {
			return v, fmt.Errorf("snapshot %q: %w", snap, err)
		}
		v.snapOwner, v.snapVersion = st.EphemeralOwner, st.Version
		v.snapshotKeys = []string{}
		for k := range v.snapshot {
			v.snapshotKeys = append(v.snapshotKeys, k)
		}
		sort.Strings(v.snapshotKeys)
	}
	pods, _, err := cluster.ReadPods(conn, c)
	if err != nil {
		return v, err
	}
	bodies := map[string]json.RawMessage{}
	newest := map[string]int64{}
	for _, p := range pods {
		if p.Registering {
			continue // no pod yet, for the model either
		}
		_, nodeSeq, _ := zk.ParseSequential(p.Node)
		if prev, ok := newest[p.Key]; ok && prev > nodeSeq {
			continue
		}
		newest[p.Key] = nodeSeq
		body, err := p.Payload.With("seq", p.Seq).Marshal()
		if err != nil {
			return v, err
		}
		bodies[p.Key] = body
	}
	v.live = []string{}
	for k := range bodies {
		v.live = append(v.live, k)
	}
	sort.Strings(v.live)
	ns := c.Qualified[:strings.LastIndex(c.Qualified, ".")]
	var clusters []string
	if model.HasWildcard(dependsOn) {
		if clusters, err = cluster.List(conn); err != nil {
			return v, err
		}
	}
	snaps := map[string]json.RawMessage{}
	for _, d := range model.ResolveDependencies(ns, c.Qualified, dependsOn, clusters) {
		data, _, err := conn.Get(zk.Cluster{Qualified: d}.Snapshot())
		switch {
		case errors.Is(err, zk.ErrNoNode):
			snaps[d] = json.RawMessage("{}")
		case err != nil:
			return v, err
		default:
			snaps[d] = data
		}
	}
	cfg := model.MachineConfig{Cluster: c, Namespace: ns, DependsOn: dependsOn}
	v.want, err = model.ReadHash(cfg, bodies, snaps, clusters)
	return v, err
}

// mdWaitView waits, through watches on the hash, the pods and the snapshot (and a slow tick for the
// dependencies), until ok holds for what ZooKeeper holds of c.
func mdWaitView(t testing.TB, conn zk.Conn, c zk.Cluster, dependsOn []string, within time.Duration, ok func(mdView) bool) mdView {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last mdView
	for {
		// Arm the watches first, then read: a change after the read fires one of them.
		_, _, hashCh, err1 := conn.ExistsW(c.Hash())
		_, _, snapCh, err2 := conn.ExistsW(c.Snapshot())
		var podsCh <-chan zk.WatchEvent
		if _, _, ch, err := conn.ChildrenW(c.Pods()); err == nil {
			podsCh = ch
		}
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		v, err := mdReadView(conn, c, dependsOn)
		if err != nil {
			t.Fatal(err)
		}
		if ok(v) {
			return v
		}
		last = v
		select {
		case <-hashCh:
		case <-snapCh:
		case <-podsCh:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%s: condition not met within %s; last: %s", c.Qualified, within, last)
		}
	}
}

// mdWaitConfigured waits until c is configured with exactly n live pods.
func mdWaitConfigured(t testing.TB, conn zk.Conn, c zk.Cluster, deps []string, n int, within time.Duration) mdView {
	t.Helper()
	return mdWaitView(t, conn, c, deps, within, func(v mdView) bool { return len(v.live) == n && v.configured() })
}

// mdInfo is /info of a pod that must answer.
func mdInfo(t testing.TB, p *podProcess) map[string]any {
	t.Helper()
	m, ok := p.info()
	if !ok {
		t.Fatalf("pod on port %d does not answer /info", p.port)
	}
	return m
}

// mdPid is the pid /info reports for the pod's command.
func mdPid(m map[string]any) int {
	f, _ := m["pid"].(float64)
	return int(f)
}

// mdWaitAll polls /info of every pod (integration tests may poll with a deadline) until ok holds for each.
func mdWaitAll(t testing.TB, pods []*podProcess, within time.Duration, ok func(map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	out := make([]map[string]any, len(pods))
	for i, p := range pods {
		for {
			m, answered := p.info()
			if answered && ok(m) {
				out[i] = m
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod %d (port %d): condition not met within %s; last /info %v", i, p.port, within, m)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return out
}

func mdRunning(m map[string]any) bool { return m["process"] == "running" && m["registered"] == true }

// mdKeys are the pods' keys as /info gives them, sorted.
func mdKeys(infos []map[string]any) []string {
	out := make([]string, 0, len(infos))
	for _, m := range infos {
		k, _ := m["key"].(string)
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// mdLeader is the pod whose /info says it leads (in any of the leader states); -1 if none does. It fails
// the test when several do.
func mdLeader(t testing.TB, pods []*podProcess) int {
	t.Helper()
	return mdLeaderExcept(t, pods, -1)
}

// mdLeaderExcept is mdLeader without asking the pod at exclude.
func mdLeaderExcept(t testing.TB, pods []*podProcess, exclude int) int {
	t.Helper()
	found := -1
	for i, p := range pods {
		if !p.alive() || i == exclude {
			continue
		}
		m, ok := p.info()
		if !ok {
			continue
		}
		if s, _ := m["state"].(string); strings.HasPrefix(s, "leader") {
			if found >= 0 {
				t.Fatalf("pods %d and %d both lead", found, i)
			}
			found = i
		}
	}
	return found
}

// mdWaitState polls one pod's /info until its state is one of states; it returns the state seen.
func mdWaitState(t testing.TB, p *podProcess, within time.Duration, states ...string) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		m, ok := p.info()
		if ok {
			for _, s := range states {
				if m["state"] == s {
					return s
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod on port %d: state not in %v within %s; last /info %v", p.port, states, within, m)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mdWaitExit waits for a pod process to end.
func mdWaitExit(t testing.TB, p *podProcess, within time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("pod on port %d did not exit within %s", p.port, within)
	}
}

// mdNoChange asserts that none of the nodes changes (or appears, or vanishes) for d: it waits on ZooKeeper
// watches, not on a bare sleep.
func mdNoChange(t testing.TB, conn zk.Conn, d time.Duration, paths ...string) {
	t.Helper()
	type fired struct {
		path string
		ev   zk.WatchEvent
	}
	ch := make(chan fired, len(paths))
	for _, p := range paths {
		_, _, w, err := conn.ExistsW(p)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			ev, ok := <-w
			if ok {
				ch <- fired{p, ev}
			}
		}()
	}
	select {
	case f := <-ch:
		t.Fatalf("%s changed (%v) while nothing should have", f.path, f.ev.Type)
	case <-time.After(d):
	}
}

// mdGone reports whether pid no longer runs (or is a zombie about to be reaped).
func mdGone(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return true
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(data))
	return len(fields) > 2 && fields[2] == "Z"
}

// mdStartTogether starts n pods with start and lets none of them lead before all n registered, so that the
// first configuration sees the whole cluster: a foreign contender (the Kazoo Lock recipe's form, as an original
// pod would create) holds c's lock until then.
func mdStartTogether(t testing.TB, conn zk.Conn, c zk.Cluster, n int, start func() *podProcess) []*podProcess {
	t.Helper()
	if err := zk.EnsurePath(conn, c.Coordinator()); err != nil {
		t.Fatal(err)
	}
	holder, err := conn.Create(c.Coordinator()+"/00000000000000000000000000000000"+zk.LockMarker, nil, zk.EphemeralSequential)
	if err != nil {
		t.Fatal(err)
	}
	pods := make([]*podProcess, n)
	for i := range pods {
		pods[i] = start()
	}
	deadline := time.NewTimer(modelDeadline)
	defer deadline.Stop()
	for {
		names, _, ch, err := conn.ChildrenW(c.Pods())
		if errors.Is(err, zk.ErrNoNode) {
			var exists bool
			if exists, _, ch, err = conn.ExistsW(c.Pods()); exists {
				continue
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(names) == n {
			break
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("%d of %d pods registered within %s", len(names), n, modelDeadline)
		}
	}
	if err := conn.Delete(holder, -1); err != nil {
		t.Fatal(err)
	}
	return pods
}
