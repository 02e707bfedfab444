package pod_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/leader"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/pod"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/zkproxy"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

const waitLong = 30 * time.Second

// watcher collects a pod's published statuses so tests wait on conditions, not sleeps.
type watcher struct {
	mu      sync.Mutex
	changed chan struct{}
	last    *v1.SessionStatus
	all     []*v1.SessionStatus
}

func watch(p *pod.Pod) (*watcher, func()) {
	w := &watcher{changed: make(chan struct{}, 1)}
	stop := p.Subscribe(func(st *v1.SessionStatus) {
		w.mu.Lock()
		w.last = st
		w.all = append(w.all, st)
		w.mu.Unlock()
		select {
		case w.changed <- struct{}{}:
		default:
		}
	})
	return w, stop
}

// until waits for a status satisfying ok and returns it.
func (w *watcher) until(t testing.TB, what string, ok func(*v1.SessionStatus) bool) *v1.SessionStatus {
	t.Helper()
	deadline := time.NewTimer(waitLong)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		last := w.last
		w.mu.Unlock()
		if last != nil && ok(last) {
			return last
		}
		select {
		case <-w.changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; last status %v", what, last)
		}
	}
}

func registered(st *v1.SessionStatus) bool { return st.GetRegistered() }

func leads(st *v1.SessionStatus) bool {
	return st.GetRegistered() && st.GetRole() == v1.Role_ROLE_LEADER
}

type fixture struct {
	t       testing.TB
	connect string // what pods dial
	log     *slog.Logger
}

func newFixture(t testing.TB, connect string) *fixture {
	level := slog.LevelWarn
	if os.Getenv("OCHOPOD_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return &fixture{t: t, connect: connect, log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))}
}

func (f *fixture) start(clusterName string, timeout time.Duration) (*pod.Pod, *watcher) {
	f.t.Helper()
	return f.startWith(clusterName, timeout, nil)
}

// workerStarts is a leader worker that reports each start (with its lock) on a channel.
func workerStarts() (leader.WorkerProps, chan string) {
	starts := make(chan string, 16)
	return func(_ zk.Conn, lock string) host.Props {
		return host.Props{Name: "worker", Supervisor: host.DefaultSupervisor(), New: func() host.Behaviour {
			return startsWorker{lock: lock, starts: starts}
		}}
	}, starts
}

// startsWorker reports its start on starts and crashes when asked to.
type startsWorker struct {
	lock   string
	starts chan<- string
}

func (w startsWorker) Started(host.Context)       { w.starts <- w.lock }
func (w startsWorker) Release(host.Context, bool) {}
func (w startsWorker) Receive(_ host.Context, msg proto.Message) {
	if m, ok := msg.(*v1.InjectCrash); ok {
		panic("worker: " + m.GetReason())
	}
}

func (f *fixture) startWith(clusterName string, timeout time.Duration, worker leader.WorkerProps) (*pod.Pod, *watcher) {
	f.t.Helper()
	return f.startConfig(clusterName, timeout, func(c *pod.Config) { c.Worker = worker })
}

// startConfig starts a pod of clusterName whose config edit changes.
func (f *fixture) startConfig(clusterName string, timeout time.Duration, edit func(*pod.Config)) (*pod.Pod, *watcher) {
	f.t.Helper()
	ens, err := zk.ParseEnsemble(f.connect)
	if err != nil {
		f.t.Fatal(err)
	}
	key := uuid.NewString()
	cfg := pod.Config{
		Key: key, Cluster: zk.ClusterOf("test", clusterName), Ensemble: ens, SessionTimeout: timeout,
		Payload: payload.Payload{"cluster": clusterName, "namespace": "test", "ip": "127.0.0.1", "port": "8080",
			"ports": map[string]any{"8080": 8080}, "binding": "local", "application": "", "task": "", "node": "local",
			"public": "127.0.0.1", "zk": f.connect, "debug": "false", "local": "true", "status": ""},
		Dialer: gozk.New(f.log), Clock: clock.Real{}, Logger: f.log,
	}
	edit(&cfg)
	p, err := pod.Start(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	w, unsubscribe := watch(p)
	f.t.Cleanup(func() {
		unsubscribe()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Stop(ctx)
	})
	return p, w
}

// observer is a plain client to look at ZooKeeper from outside the pods.
func observer(t *testing.T, addr string) zk.Conn {
	t.Helper()
	ens, err := zk.ParseEnsemble(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	conn, err := gozk.Connect(ctx, ens, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

func TestIntegration_PodRegistersWithThePayloadAndItsFirstSequence(t *testing.T) {
	srv := zkserver.Start(t)
	f := newFixture(t, srv.Addr())
	_, w := f.start("web", 5*time.Second)
	st := w.until(t, "registration", registered)

	obs := observer(t, srv.Addr())
	c := zk.ClusterOf("test", "web")
	pods, skipped, err := cluster.ReadPods(obs, c)
	if err != nil || len(skipped) != 0 || len(pods) != 1 {
		t.Fatalf("pods %v skipped %v err %v", pods, skipped, err)
	}
	got := pods[0]
	if got.Key != st.GetKey() || path.Join(c.Pods(), got.Node) != st.GetPath() {
		t.Fatalf("node %s/%s, status %v", got.Key, got.Node, st)
	}
	_, nodeSeq, _ := zk.ParseSequential(got.Node)
	if seq, ok := got.Payload.Seq(); !ok || seq != nodeSeq || seq != st.GetSeq() {
		t.Fatalf("payload seq %d (%v), node sequence %d, status seq %d", seq, ok, nodeSeq, st.GetSeq())
	}
	for _, k := range []string{"cluster", "namespace", "binding", "application", "task", "node", "ip", "public",
		"port", "ports", "seq", "zk", "debug", "local", "status"} {
		if _, ok := got.Payload[k]; !ok {
			t.Errorf("payload lacks %q: %v", k, got.Payload)
		}
	}
	for _, p := range []string{c.Hash(), c.Coordinator()} {
		if ok, _, err := obs.Exists(p); !ok || err != nil {
			t.Errorf("%s missing (%v)", p, err)
		}
	}
	w.until(t, "leadership of a lone pod", leads)
}

func TestIntegration_ExactlyOneLeaderAndGracefulHandOver(t *testing.T) {
	srv := zkserver.Start(t)
	f := newFixture(t, srv.Addr())
	const n = 5
	pods := make([]*pod.Pod, n)
	watchers := make([]*watcher, n)
	for i := range pods {
		pods[i], watchers[i] = f.start("db", 5*time.Second)
	}
	for i := range pods {
		watchers[i].until(t, fmt.Sprintf("pod %d registered", i), registered)
	}
	holder := waitSingleLeader(t, pods, watchers, -1)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pods[holder].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	next := waitSingleLeader(t, pods, watchers, holder)
	if next == holder {
		t.Fatal("the stopped pod still leads")
	}
	obs := observer(t, srv.Addr())
	live, _, err := cluster.ReadPods(obs, zk.ClusterOf("test", "db"))
	if err != nil || len(live) != n-1 {
		t.Fatalf("after the graceful stop: %d pods (%v), want %d", len(live), err, n-1)
	}
}

// waitSingleLeader waits until exactly one of the pods (other than skip) says it leads, and that pod's lock is
// the lowest contender in ZooKeeper.
func waitSingleLeader(t *testing.T, pods []*pod.Pod, ws []*watcher, skip int) int {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		leaders := []int{}
		for i, p := range pods {
			if i == skip {
				continue
			}
			st, err := p.Status(time.Second)
			if err == nil && leads(st) {
				leaders = append(leaders, i)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		if len(leaders) > 1 {
			t.Fatalf("pods %v all lead", leaders)
		}
		if time.Now().After(deadline) {
			t.Fatal("no leader elected")
		}
		// Integration tests may poll with a deadline (STYLE 11); wake on any status change or every 50 ms.
		select {
		case <-anyChange(ws):
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func anyChange(ws []*watcher) <-chan struct{} {
	out := make(chan struct{})
	var once sync.Once
	for _, w := range ws {
		go func(w *watcher) {
			select {
			case <-w.changed:
				once.Do(func() { close(out) })
			case <-time.After(100 * time.Millisecond):
			}
		}(w)
	}
	return out
}

func nextStart(t *testing.T, starts chan string) string {
	t.Helper()
	select {
	case lock := <-starts:
		return lock
	case <-time.After(waitLong):
		t.Fatal("the leader's worker did not start")
	}
	return ""
}

func TestIntegration_LeaderCrashKeepsTheRegistration(t *testing.T) {
	srv := zkserver.Start(t)
	f := newFixture(t, srv.Addr())
	worker, starts := workerStarts()
	p, w := f.startWith("web", 5*time.Second, worker)
	before := w.until(t, "leadership", leads)
	first := nextStart(t, starts)

	p.Crash("leader", "test")
	// The restarted leader finds its contender node of this session and keeps its place in line, so it leads
	// again on the same lock and starts a new worker.
	if again := nextStart(t, starts); again != first {
		t.Fatalf("lock changed across a leader crash: %s then %s", first, again)
	}
	st, err := p.Status(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st.GetPath() != before.GetPath() || st.GetSessionId() != before.GetSessionId() || st.GetEpoch() != before.GetEpoch() || !leads(st) {
		t.Fatalf("registration changed across a leader crash: before %v after %v", before, st)
	}
}

func TestIntegration_WorkerCrashRestartsItUnderTheSameLock(t *testing.T) {
	srv := zkserver.Start(t)
	f := newFixture(t, srv.Addr())
	worker, starts := workerStarts()
	p, w := f.startWith("web", 5*time.Second, worker)
	before := w.until(t, "leadership", leads)
	first := nextStart(t, starts)
	for i := 0; i < 3; i++ { // repeated crashes back off but always restart
		p.Crash("worker", "test")
		if again := nextStart(t, starts); again != first {
			t.Fatalf("lock changed: %s then %s", first, again)
		}
	}
	st, err := p.Status(time.Second)
	if err != nil || !leads(st) || st.GetLockPath() != before.GetLockPath() {
		t.Fatalf("after worker crashes: %v %v", st, err)
	}
}

// A crash of the session, or of the root (which restarts the whole tree), registers again on a new session
// with the key and the seq the pod took first: the identity outlives the incarnations (before, a new root had
// forgotten it and the pod took a new seq: testkit/sim invariant (b), the whole-tree crash).
func TestIntegration_CrashReRegistersWithTheSameKeyAndSeq(t *testing.T) {
	for _, actor := range []string{"session", "root"} {
		t.Run(actor, func(t *testing.T) {
			srv := zkserver.Start(t)
			f := newFixture(t, srv.Addr())
			p, w := f.start("web", 5*time.Second)
			before := w.until(t, "registration", registered)

			p.Crash(actor, "test")
			after := w.until(t, "registration on a new session", func(st *v1.SessionStatus) bool {
				return registered(st) && st.GetSessionId() != before.GetSessionId()
			})
			if after.GetKey() != before.GetKey() || after.GetSeq() != before.GetSeq() {
				t.Fatalf("identity changed: before %v after %v", before, after)
			}
			obs := observer(t, srv.Addr())
			if ok, _, _ := obs.Exists(before.GetPath()); ok {
				t.Fatalf("old node %s still there", before.GetPath())
			}
			pods, _, err := cluster.ReadPods(obs, zk.ClusterOf("test", "web"))
			if err != nil || len(pods) != 1 || pods[0].Seq != before.GetSeq() {
				t.Fatalf("pods %v err %v", pods, err)
			}
			w.until(t, "leadership on the new session", leads)
		})
	}
}

func TestIntegration_ResetKeepsTheIdentity(t *testing.T) {
	srv := zkserver.Start(t)
	f := newFixture(t, srv.Addr())
	p, w := f.start("web", 5*time.Second)
	before := w.until(t, "registration", registered)
	p.Reset("test")
	after := w.until(t, "registration after reset", func(st *v1.SessionStatus) bool {
		return registered(st) && st.GetEpoch() > before.GetEpoch()
	})
	if after.GetSeq() != before.GetSeq() || after.GetKey() != before.GetKey() || after.GetSessionId() == before.GetSessionId() {
		t.Fatalf("before %v after %v", before, after)
	}
}

func TestIntegration_ExpiredSessionReRegistersAndElectsAgain(t *testing.T) {
	srv := zkserver.Start(t)
	proxy, err := zkproxy.New(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	f := newFixture(t, proxy.Addr())
	const timeout = 2 * time.Second
	p, w := f.start("web", timeout)
	before := w.until(t, "leadership", leads)

	// Silence the pod past its session timeout: the server expires the session and drops its nodes.
	proxy.Pause()
	obs := observer(t, srv.Addr())
	waitGone(t, obs, before.GetPath())
	proxy.Resume()

	after := w.until(t, "leadership on a new session", func(st *v1.SessionStatus) bool {
		return leads(st) && st.GetSessionId() != before.GetSessionId()
	})
	if after.GetKey() != before.GetKey() || after.GetSeq() != before.GetSeq() {
		t.Fatalf("identity changed: before %v after %v", before, after)
	}
	_ = p
}

// waitGone waits, through a watch, until the node at p no longer exists.
func waitGone(t *testing.T, c zk.Conn, p string) {
	t.Helper()
	deadline := time.NewTimer(waitLong)
	defer deadline.Stop()
	for {
		ok, _, ch, err := c.ExistsW(p)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("%s still exists", p)
		}
	}
}

func TestIntegration_ZooKeeperDownAtStartThenUp(t *testing.T) {
	srv := zkserver.Start(t)
	srv.Stop()
	f := newFixture(t, srv.Addr())
	_, w := f.start("web", 2*time.Second)
	select {
	case <-w.changed:
		t.Logf("status while ZooKeeper is down: %v", w.last)
	case <-time.After(time.Second):
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	w.until(t, "registration once ZooKeeper is up", registered)
}

func TestIntegration_LongDisconnectStepsDownThenLeadsAgainOnTheSameSession(t *testing.T) {
	srv := zkserver.Start(t)
	proxy, err := zkproxy.New(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	f := newFixture(t, proxy.Addr())
	const timeout = 6 * time.Second // a third of it (2 s) before stepping down; the client retries every 1 s
	_, w := f.start("web", timeout)
	before := w.until(t, "leadership", leads)
	waitWatched(t, srv, before.GetLockPath()) // the leader is idle, watching its own lock node

	proxy.Refuse(true)
	proxy.Cut()
	w.until(t, "stepping down while disconnected", func(st *v1.SessionStatus) bool {
		return st.GetRegistered() && !st.GetConnected() && st.GetRole() == v1.Role_ROLE_FOLLOWER
	})
	proxy.Refuse(false)
	after := w.until(t, "leadership after the reconnection", leads)
	if after.GetSessionId() != before.GetSessionId() || after.GetPath() != before.GetPath() {
		t.Fatalf("the session changed: before %v after %v", before, after)
	}
}

// waitWatched polls the server's watch table (the wchp four-letter word) until p is watched.
func waitWatched(t *testing.T, srv *zkserver.Server, p string) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		out, err := srv.FourLetter("wchp")
		if err == nil && strings.Contains(out, p+"\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not watched: %q %v", p, out, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
