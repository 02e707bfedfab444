package fabric_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/lifecycle"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/pod"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/fabric"
	"github.com/ochopod/ochopod/testkit/fakeproc"
	"github.com/ochopod/ochopod/testkit/vclock"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

// TestExample_ThreePodClusterInOneProcess runs three whole pods (pod.Start: session, leader, model, lifecycle,
// executor) in one process: ZooKeeper is zkmem, the network is the fabric, the processes are fakeproc's, time
// is a virtual clock. The pods join one at a time; after each join the leader configures the cluster, and with
// Strict every pod's process restarts with the new cluster in its environment. At the end each fake process
// got OCHOPOD_SIZE=3 and its own OCHOPOD_INDEX.

func TestExample_ThreePodClusterInOneProcess(t *testing.T) {
	const damper = 5 * time.Second
	clk := vclock.New()
	zoo := zkmem.New(clk)
	net := fabric.New(fabric.WithClock(clk))
	t.Cleanup(net.Close)

	var members []*member
	for i, letter := range []string{"a", "b", "c"} {
		key := letter + "0000000-0000-4000-8000-000000000000" // fixed keys: the index follows their order
		m := startMember(t, zoo, net, clk, key, fmt.Sprintf("10.0.0.%d", i+1), damper)
		members = append(members, m)
		// The first pod leads (it is alone when it contends). Its model sees the join, waits for the damper
		// on the virtual clock, then configures every pod through the fabric.
		members[0].model.until(t, fmt.Sprintf("the leader sees %d pods", i+1), func(st *v1.ModelStatus) bool {
			return st.GetState() == v1.ModelState_MODEL_STATE_PENDING && st.GetPods() == int32(i+1)
		})
		clk.Advance(damper)
		for _, m := range members { // each pod's process (re)starts with the new cluster
			m.nextProcess(t)
		}
		members[0].model.until(t, "the configuration written", func(st *v1.ModelStatus) bool {
			return st.GetState() == v1.ModelState_MODEL_STATE_IDLE && st.GetConfigurations() == int32(i+1)
		})
	}

	var indexes []string
	for _, m := range members {
		env := m.procs.Last().Spec().Env
		if !slices.Contains(env, "OCHOPOD_SIZE=3") {
			t.Errorf("pod %s: environment %q lacks OCHOPOD_SIZE=3", m.key, env)
		}
		indexes = append(indexes, lookup(env, "OCHOPOD_INDEX"))
	}
	if !slices.Equal(indexes, []string{"0", "1", "2"}) { // pods are indexed in key order
		t.Fatalf("indexes %q, want 0, 1, 2", indexes)
	}
	if running := len(members[0].procs.Running()) + len(members[1].procs.Running()) + len(members[2].procs.Running()); running != 3 {
		t.Fatalf("%d processes running, want one per pod", running)
	}
	// The leader posted check, on and ok to every pod in each of the three phases (DESIGN §7).
	phases := map[string]int{}
	for _, c := range net.Calls() {
		if c.Err != nil || c.Code != 200 {
			t.Errorf("call %d %s %s: %d %v", c.Seq, c.To, c.Path, c.Code, c.Err)
		}
		phases[strings.Split(c.Path, "/")[2]]++
	}
	if want := map[string]int{"check": 1 + 2 + 3, "on": 1 + 2 + 3, "ok": 1 + 2 + 3}; !maps.Equal(phases, want) {
		t.Fatalf("requests per task %v, want %v", phases, want)
	}
}

// member is one pod of the example, with what the test watches.
type member struct {
	key    string
	pod    *pod.Pod
	procs  *fakeproc.Spawner
	spawns chan *fakeproc.Process
	model  *models
}

func startMember(t *testing.T, zoo *zkmem.Server, net *fabric.Fabric, clk *vclock.Clock, key, ip string,
	damper time.Duration) *member {
	t.Helper()
	addr := ip + ":8080"
	m := &member{key: key, procs: fakeproc.New(), spawns: make(chan *fakeproc.Process, 16)}
	m.procs.OnSpawn(func(p *fakeproc.Process) { m.spawns <- p })
	// The pod dials ZooKeeper only once the test subscribed to its statuses: pod.Start runs the tree at once,
	// and with zkmem the first statuses could otherwise be published before anyone listens.
	dialer := gatedDialer{inner: zoo.Dialer(), open: make(chan struct{})}
	p, err := pod.Start(pod.Config{
		Key: key, Cluster: zk.ClusterOf("test", "web"), Ensemble: zk.Ensemble{Servers: []string{"zkmem:2181"}},
		SessionTimeout: 10 * time.Second,
		Payload:        payload.Payload{"ip": ip, "port": "8080", "ports": map[string]any{"8080": 8080}},
		Dialer:         dialer, Clock: clk,
		Model: &pod.ModelConfig{Damper: damper, Caller: net.CallerFrom(addr)},
		Lifecycle: &pod.LifecycleConfig{
			Lifecycle: sdk.Exec{Argv: []string{"server"}}, Spawner: m.procs,
			Settings: lifecycle.Settings{Strict: true}, // restart at every configuration
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m.pod, m.model = p, watchModels(p)
	close(dialer.open)
	if err := net.Register(addr, control.Handler(p, nil, control.Settings{}, nil)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		m.model.stop()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("stop %s: %v", key, err)
		}
	})
	return m
}

func (m *member) nextProcess(t *testing.T) *fakeproc.Process {
	t.Helper()
	select {
	case p := <-m.spawns:
		return p
	case <-time.After(wait):
		t.Fatalf("pod %s started no process", m.key)
		return nil
	}
}

func lookup(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// gatedDialer holds Dial until open is closed.
type gatedDialer struct {
	inner zk.Dialer
	open  chan struct{}
}

func (d gatedDialer) Dial(e zk.Ensemble, timeout time.Duration) (zk.Conn, <-chan zk.SessionEvent, error) {
	<-d.open
	return d.inner.Dial(e, timeout)
}

// models keeps every ModelStatus a pod publishes (only a leader does), so a test waits on them, not sleeps.
type models struct {
	all  chan *v1.ModelStatus
	stop func()
}

func watchModels(p *pod.Pod) *models {
	w := &models{all: make(chan *v1.ModelStatus, 1024)}
	w.stop = p.SubscribeEvents(func(evt proto.Message) {
		if st, ok := evt.(*v1.ModelStatus); ok {
			w.all <- st
		}
	})
	return w
}

// until waits for a status, published since the last one until returned, that satisfies ok.
func (w *models) until(t *testing.T, what string, ok func(*v1.ModelStatus) bool) *v1.ModelStatus {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	var last *v1.ModelStatus
	for {
		select {
		case st := <-w.all:
			if ok(st) {
				return st
			}
			last = st
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; the last status since: %v", what, last)
			return nil
		}
	}
}
