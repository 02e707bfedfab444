package probe_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/executor"
	"github.com/ochopod/ochopod/actors/lifecycle"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/protohost"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/testkit/fakeproc"
	"github.com/ochopod/ochopod/testkit/probe"
	"github.com/ochopod/ochopod/testkit/vclock"
)

// peers is a user's lifecycle: Configure writes the cluster's members into peers.conf and runs a server on it.
type peers struct{ dir string }

func (p peers) Configure(_ context.Context, c *sdk.Cluster) (sdk.Command, error) {
	var conf strings.Builder
	for _, pod := range c.Pods {
		fmt.Fprintf(&conf, "%s %s\n", pod.Key, pod.Payload.String("ip"))
	}
	path := filepath.Join(p.dir, "peers.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		return sdk.Command{}, fmt.Errorf("write %s: %w", path, err)
	}
	return sdk.Command{Argv: []string{"server", "--peers", path}}, nil
}

// TestExample_LifecycleWritesItsConfigAndRunsTheServer drives the user's lifecycle through the real lifecycle
// and executor actors, with fake processes and a virtual clock, the way the leader's "on" does.
func TestExample_LifecycleWritesItsConfigAndRunsTheServer(t *testing.T) {
	system, p, clk, procs, dir := probe.NewSystem(t), probe.New(), vclock.New(), fakeproc.New(), t.TempDir()
	p.TrackRoot(system) // count what timers and the exit waiter send, for Quiesce
	// The behaviours on the production host, every actor of the tree probed, timers on the virtual clock.
	env := protohost.Env{Clock: clk, Options: p.Options()}
	lc := system.Root.Spawn(protohost.Props(lifecycle.Props(lifecycle.Config{
		Lifecycle: peers{dir: dir}, ClusterEnv: (*sdk.Envelope).Environ,
		Executor: executor.Props(executor.Config{Spawner: procs}),
	}), env))
	t.Cleanup(func() { _ = system.Root.StopFuture(lc).Wait() })

	// The leader's "on" to pod b of a three-pod cluster.
	on := &v1.ControlRequest{Task: v1.Task_TASK_ON, Body: []byte(`{"key": "b", "pods": {
		"a": {"ip": "10.0.0.1", "seq": 0}, "b": {"ip": "10.0.0.2", "seq": 1}, "c": {"ip": "10.0.0.3", "seq": 2}}}`)}
	if res, err := system.Root.RequestFuture(lc, on, wait).Result(); err != nil || res.(*v1.ControlReply).GetCode() != 200 {
		t.Fatalf("on: %v %v", res, err)
	}
	p.WaitFor(t, started(1), wait) // the executor reported the process up to the lifecycle
	server := procs.Last()
	conf, _ := os.ReadFile(filepath.Join(dir, "peers.conf"))
	if string(conf) != "a 10.0.0.1\nb 10.0.0.2\nc 10.0.0.3\n" || server.Spec().Argv[2] != filepath.Join(dir, "peers.conf") {
		t.Fatalf("peers.conf %q, argv %q", conf, server.Spec().Argv)
	}
	if env := server.Spec().Env; !slices.Contains(env, "OCHOPOD_SIZE=3") || !slices.Contains(env, "OCHOPOD_INDEX=1") {
		t.Fatalf("environment %q", env)
	}

	server.ExitWith(2) // a crash: the lifecycle restarts the same command at once
	p.WaitFor(t, started(2), wait)
	if again := procs.Last(); again == server || !slices.Equal(again.Spec().Argv, server.Spec().Argv) {
		t.Fatalf("restarted %v after %v", again.Spec().Argv, server.Spec().Argv)
	}
	procs.Last().ExitWith(2)      // crashing again: the next restart waits 1 s, on the virtual clock
	p.WaitFor(t, exited(2), wait) // the exit, on its way to the lifecycle
	probe.Quiesce(t, clk, p)      // the lifecycle handled it: nothing in flight, the backoff timer not due
	if n := len(procs.Processes()); n != 2 {
		t.Fatalf("%d processes before the backoff, want 2", n)
	}
	clk.Advance(time.Second)
	p.WaitFor(t, started(3), wait)

	kill := &v1.ControlRequest{Task: v1.Task_TASK_KILL}
	if res, err := system.Root.RequestFuture(lc, kill, wait).Result(); err != nil || res.(*v1.ControlReply).GetCode() != 200 {
		t.Fatalf("kill: %v %v", res, err)
	}
	if last := procs.Last(); last.Running() || last.Exit().Signal != syscall.SIGTERM { // then SIGKILL to its group
		t.Fatalf("after kill: running %v, exit %+v, signals %v", last.Running(), last.Exit(), last.Signals())
	}
}

// started matches the executor's report that incarnation n runs.
func started(n uint64) func(proto.Message) bool {
	return func(m proto.Message) bool {
		s, ok := m.(*v1.ExecStarted)
		return ok && s.GetIncarnation() == n && s.GetPid() > 0
	}
}

// exited matches the executor's report that incarnation n ended.
func exited(n uint64) func(proto.Message) bool {
	return func(m proto.Message) bool {
		x, ok := m.(*v1.ExecExited)
		return ok && x.GetIncarnation() == n
	}
}
