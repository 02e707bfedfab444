package pod_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/custom"
	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/pod"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/fakeproc"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// reporter is a custom actor that says on a channel what happens to it; told RoleChanged to leader, it asks
// the lifecycle for a check through the pod (Env.Pod).
type reporter struct {
	env custom.Env
	out chan<- string
}

func (r reporter) Started(host.Context)       { r.out <- "started " + r.env.Nodes.Lock() }
func (r reporter) Release(host.Context, bool) { r.out <- "released" }

func (r reporter) Receive(ctx host.Context, msg proto.Message) {
	switch m := msg.(type) {
	case *v1.RoleChanged:
		r.out <- "role " + protocol.Name(m.GetRole())
		if m.GetRole() == v1.Role_ROLE_LEADER {
			ctx.Request(r.env.Pod, &v1.ControlRequest{Task: v1.Task_TASK_CHECK})
		}
	case *v1.ControlReply:
		r.out <- fmt.Sprintf("reply %d", m.GetCode())
	}
}

func reporterActor(name string, scope custom.Scope, out chan<- string) custom.Actor {
	return custom.Actor{Name: name, Scope: scope, Supervisor: host.DefaultSupervisor(), New: func(env custom.Env) host.Behaviour {
		if scope == custom.ScopePod {
			return podReporter{reporter{env: env, out: out}}
		}
		return reporter{env: env, out: out}
	}}
}

// podReporter is a reporter of pod scope: it has no nodes.
type podReporter struct{ reporter }

func (r podReporter) Started(host.Context) { r.out <- "started" }

func expectReport(t *testing.T, from string, out <-chan string, want string) string {
	t.Helper()
	deadline := time.After(waitLong)
	for {
		select {
		case got := <-out:
			if strings.HasPrefix(got, want) {
				return got
			}
		case <-deadline:
			t.Fatalf("%s: no %q within %s", from, want, waitLong)
		}
	}
}

// DESIGN §4 "Custom actors" on real ZooKeeper: a pod-scope actor hears its pod become leader and asks the
// lifecycle through the pod (a pod without a process answers 200); a leader-scope actor starts when the pod
// wins the lock, with its nodes fenced by that lock, stops when the pod loses it, and starts again with the
// next lock.
func TestIntegration_CustomActorsHearThePodAndLiveWithTheLock(t *testing.T) {
	srv := zkserver.Start(t)
	f := newFixture(t, srv.Addr())
	podOut, leaderOut := make(chan string, 64), make(chan string, 64)
	_, w := f.startConfig("custom", 5*time.Second, func(c *pod.Config) {
		c.Actors = []custom.Actor{reporterActor("watch", custom.ScopePod, podOut), reporterActor("lead", custom.ScopeLeader, leaderOut)}
	})
	expectReport(t, "pod scope", podOut, "started")
	expectReport(t, "pod scope", podOut, "role leader")
	expectReport(t, "pod scope", podOut, "reply 200")
	st := w.until(t, "leadership", leads)
	first := strings.TrimPrefix(expectReport(t, "leader scope", leaderOut, "started "), "started ")
	if first != st.GetLockPath() || !strings.HasPrefix(first, zk.ClusterOf("test", "custom").Coordinator()+"/") {
		t.Fatalf("leader-scope actor fenced by %q, the pod leads with %q", first, st.GetLockPath())
	}

	obs := observer(t, srv.Addr())
	if err := obs.Delete(first, zk.AnyVersion); err != nil { // an operator takes the lock away
		t.Fatal(err)
	}
	expectReport(t, "leader scope", leaderOut, "released")
	second := strings.TrimPrefix(expectReport(t, "leader scope", leaderOut, "started "), "started ")
	if second == first {
		t.Fatalf("started again under the lock %s it lost", first)
	}
}

// Actors a pod cannot run are refused at Start, naming what is wrong, before anything runs.
func TestStart_RefusesCustomActorsItCannotRun(t *testing.T) {
	_, err := pod.Start(pod.Config{Key: "k", Cluster: zk.ClusterOf("test", "c"), Ensemble: zk.Ensemble{Servers: []string{"127.0.0.1:1"}},
		Dialer: gozk.New(nil), Clock: clock.Real{}, Payload: payload.Payload{"ip": "127.0.0.1", "port": "8080"},
		Actors: []custom.Actor{{Name: "a", Scope: custom.ScopeLeader}}})
	if err == nil || !strings.Contains(err.Error(), "no supervisor stated") || !strings.Contains(err.Error(), "no constructor") {
		t.Fatalf("Start: %v, want the actor refused", err)
	}
}

// driver is a pod-scope actor that turns the pod's process on through the lifecycle as soon as it starts,
// and reports the reply and the process states it hears.
type driver struct {
	env custom.Env
	out chan<- string
}

func (d driver) Started(ctx host.Context) {
	body := fmt.Sprintf(`{"key": %q, "pods": {%q: {"ip": "127.0.0.1", "port": "8080", "seq": 0}}, "dependencies": {}}`, d.env.Key, d.env.Key)
	ctx.Request(d.env.Pod, &v1.ControlRequest{Task: v1.Task_TASK_ON, Body: []byte(body)})
}
func (d driver) Release(host.Context, bool) {}
func (d driver) Receive(_ host.Context, msg proto.Message) {
	switch m := msg.(type) {
	case *v1.ControlReply:
		d.out <- fmt.Sprintf("reply %d %s", m.GetCode(), m.GetBody())
	case *v1.LifecycleStatus:
		d.out <- "process " + protocol.Name(m.GetProcess())
	}
}

// A custom actor asks the lifecycle (DESIGN §6) through the pod, gets its reply, and hears the process state
// it caused.
func TestIntegration_CustomActorAsksTheLifecycle(t *testing.T) {
	srv := zkserver.Start(t)
	f := newFixture(t, srv.Addr())
	out := make(chan string, 64)
	procs := fakeproc.New()
	f.startConfig("driven", 5*time.Second, func(c *pod.Config) {
		c.Lifecycle = &pod.LifecycleConfig{Lifecycle: sdk.Exec{Argv: []string{"server"}}, Spawner: procs}
		c.Actors = []custom.Actor{{Name: "driver", Scope: custom.ScopePod, Supervisor: host.DefaultSupervisor(),
			New: func(env custom.Env) host.Behaviour { return driver{env: env, out: out} }}}
	})
	expectReport(t, "driver", out, "reply 200")
	expectReport(t, "driver", out, "process running")
	if p := procs.Last(); p == nil || !p.Running() {
		t.Fatalf("no process running after the actor's on")
	}
}

// checker is a pod-scope actor that asks the lifecycle a check of body each time the test pulls its
// trigger, and reports the replies.
type checker struct {
	env     custom.Env
	trigger <-chan struct{}
	body    func(key string) []byte
	out     chan<- string
}

func (c checker) Started(ctx host.Context) {
	ctx.Go("trigger", func(t host.Task) {
		for {
			if _, ok := host.Recv(t, c.trigger); !ok {
				return
			}
			t.Tell(&v1.TimerFired{})
		}
	})
}
func (c checker) Release(host.Context, bool) {}
func (c checker) Receive(ctx host.Context, msg proto.Message) {
	switch m := msg.(type) {
	case *v1.TimerFired:
		ctx.Request(c.env.Pod, &v1.ControlRequest{Task: v1.Task_TASK_CHECK, Body: c.body(c.env.Key)})
	case *v1.ControlReply:
		c.out <- fmt.Sprintf("reply %d", m.GetCode())
	}
}

// A custom actor's check between the check and the on of a leader's phase, through the pod as it ships
// (protohost, the root, the lifecycle): the phase's on and ok still answer 200, where an operator's check
// without a phase makes them 409 (DESIGN §6, the stale phase's refusal, which stays for the original's
// leaders).
func TestIntegration_ACustomActorsCheckDoesNotBreakTheLeadersPhase(t *testing.T) {
	srv := zkserver.Start(t)
	f := newFixture(t, srv.Addr())
	out, trigger := make(chan string, 16), make(chan struct{})
	t.Cleanup(func() { close(trigger) })
	body := func(key string) []byte {
		return fmt.Appendf(nil, `{"key": %q, "pods": {%q: {"ip": "127.0.0.1", "port": "8080", "seq": 0}}, "dependencies": {}}`, key, key)
	}
	var key string
	p, _ := f.startConfig("aside", 5*time.Second, func(c *pod.Config) {
		key = c.Key
		c.Lifecycle = &pod.LifecycleConfig{Lifecycle: sdk.Exec{Argv: []string{"server"}}, Spawner: fakeproc.New()}
		c.Actors = []custom.Actor{{Name: "checker", Scope: custom.ScopePod, Supervisor: host.DefaultSupervisor(),
			New: func(env custom.Env) host.Behaviour { return checker{env: env, trigger: trigger, body: body, out: out} }}}
	})
	ask := func(task v1.Task, phase string) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		code, reply, err := p.Control(ctx, control.Request{Task: task, Body: body(key), Phase: phase, Timeout: waitLong})
		if err != nil {
			t.Fatalf("%s of phase %q: %v", task, phase, err)
		}
		if code != 200 && code != 409 {
			t.Fatalf("%s of phase %q: %d %s", task, phase, code, reply)
		}
		return code
	}
	for i, phase := range []string{"lock.1", "lock.2"} {
		if code := ask(v1.Task_TASK_CHECK, phase); code != 200 {
			t.Fatalf("the leader's check: %d", code)
		}
		trigger <- struct{}{}
		expectReport(t, "checker", out, "reply 200")
		if i == 1 { // the control API's check without a phase: an operator, or a leader of the original
			if code := ask(v1.Task_TASK_CHECK, ""); code != 200 {
				t.Fatalf("a check without a phase: %d", code)
			}
		}
		want := map[int]int{0: 200, 1: 409}[i]
		if on, ok := ask(v1.Task_TASK_ON, phase), ask(v1.Task_TASK_OK, phase); on != want || ok != want {
			t.Fatalf("phase %s after a custom actor's check: on %d, ok %d, want %d", phase, on, ok, want)
		}
	}
}
